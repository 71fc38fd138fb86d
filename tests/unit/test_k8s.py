"""deploy/k8s cannot be applied here (no cluster), so its structure is checked against the code."""
from pathlib import Path

import pytest
import yaml

from services.core.settings import SERVICE_PORTS, VARIABLES

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KNOWN_ENV = {v.name for v in VARIABLES} | {"PORT"}


def _docs() -> list[dict]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            out.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return out


DOCS = _docs()


def _one(kind: str, name: str) -> dict:
    found = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _workload(service: str) -> dict:
    """The ledger's workers are a StatefulSet (a fixed identity and a volume each); the other
    services are Deployments."""
    return _one("StatefulSet" if service == "ledger" else "Deployment", f"goalpost-{service}")


def _pod(service: str) -> dict:
    return _workload(service)["spec"]["template"]


def _container(service: str) -> dict:
    (c,) = _pod(service)["spec"]["containers"]
    return c


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[:-2]) * factor
    return float(quantity) / 2**20


def _env_names(container: dict) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        obj = _one(kind, ref["name"])
        names |= set(obj.get("data", {})) | set(obj.get("stringData", {}))
    return names


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert len(kustomization["resources"]) == len(files)


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_every_service_has_a_deployment_and_a_service_on_its_port(service):
    port = SERVICE_PORTS[service]
    deployment = _workload(service)
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    c = _container(service)
    assert c["image"] == "goalpost:latest"
    assert c["command"] == ["python", "-m", f"services.{service}"]
    (p,) = c["ports"]
    assert p["containerPort"] == port and p["name"] == "http"
    svc = _one("Service", f"goalpost-{service}")
    assert svc["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (sp,) = svc["spec"]["ports"]
    assert sp["port"] == port and sp["targetPort"] in (port, "http")
    config = _one("ConfigMap", "goalpost-config")["data"]
    assert config[f"GOALPOST_{service.upper()}_PORT"] == str(port)


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_probes_hit_healthz_and_readyz_on_the_container_port(service):
    c = _container(service)
    port = SERVICE_PORTS[service]
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in (port, "http"), probe
    if service in ("match", "ledger"):  # they rebuild state at start
        startup = c["startupProbe"]
        assert startup["httpGet"]["port"] in (port, "http")
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_pods_are_scraped_for_metrics(service):
    pod = _pod(service)
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(SERVICE_PORTS[service])
    assert annotations["prometheus.io/path"] == "/metrics"
    monitor = _one("PodMonitor", "goalpost")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    labels = pod["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for expr in monitor["spec"]["selector"].get("matchExpressions", []):
        assert expr["operator"] == "In" and labels[expr["key"]] in expr["values"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_env_uses_only_documented_variables_and_the_keys_from_the_secret(service):
    pod = _pod(service)["spec"]
    for c in pod["containers"] + pod.get("initContainers", []):
        assert _env_names(c) <= KNOWN_ENV, c["name"]
    c = _container(service)
    secret_refs = [e for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    assert [e["name"] for e in secret_refs] == ["GOALPOST_API_KEYS"]  # every route checks scoped keys
    secret = _one("Secret", secret_refs[0]["valueFrom"]["secretKeyRef"]["name"])
    assert secret_refs[0]["valueFrom"]["secretKeyRef"]["key"] in secret["stringData"]
    config = _one("ConfigMap", "goalpost-config")["data"]
    assert "GOALPOST_API_KEYS" not in config  # secrets do not go in the ConfigMap


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_resources_and_security_context(service):
    pod = _pod(service)["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (Dockerfile)
    for c in pod["containers"] + pod.get("initContainers", []):
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert _mebibytes(c["resources"]["limits"]["memory"]) <= 384
    resources = _container(service)["resources"]
    assert _mebibytes(resources["requests"]["memory"]) == 256
    assert _mebibytes(resources["limits"]["memory"]) == 384
    assert resources["requests"]["cpu"] == "250m"
    # faust creates its data directory in the working directory (/app): it must be writable
    mounts = {m["mountPath"] for m in _container(service)["volumeMounts"]}
    assert f"/app/goalpost-{service}-data" in mounts


def test_replicas_and_one_pod_per_ledger_worker():
    replicas = {s: _workload(s)["spec"]["replicas"] for s in SERVICE_PORTS}
    assert replicas == {"ingest": 2, "classify": 2, "match": 2, "ledger": 1}
    ledger = _workload("ledger")["spec"]
    config = _one("ConfigMap", "goalpost-config")["data"]
    assert int(config["GOALPOST_LEDGER_WORKERS"]) == ledger["replicas"]
    assert ledger["serviceName"] == "goalpost-ledger" and ledger["updateStrategy"]["type"] == "RollingUpdate"


def test_configmap_keeps_the_code_defaults_except_where_kubernetes_differs():
    config = _one("ConfigMap", "goalpost-config")["data"]
    defaults = {v.name: v.default for v in VARIABLES}
    deployment_specific = {"GOALPOST_KAFKA_BOOTSTRAP", "GOALPOST_REDIS_URL", "GOALPOST_HTTP_HOST", "GOALPOST_STATE_DIR",
                           "GOALPOST_TOPIC_REPLICATION", "GOALPOST_TOPIC_MIN_INSYNC"}
    assert (config["GOALPOST_TOPIC_REPLICATION"], config["GOALPOST_TOPIC_MIN_INSYNC"]) == ("3", "2")  # a cluster
    assert config["GOALPOST_HTTP_HOST"] == "0.0.0.0"  # probes and Services reach the pod IP
    for name, value in config.items():
        if name not in deployment_specific:
            assert value == defaults[name], f"{name}: {value!r} in deploy/k8s/configmap.yaml, {defaults[name]!r} in settings.py"


def test_topics_job_creates_the_topics():
    job = _one("Job", "goalpost-topics")
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["goalpost", "topics"]
    assert _env_names(c) <= KNOWN_ENV
    assert {"GOALPOST_KAFKA_BOOTSTRAP", "GOALPOST_TOPIC_PARTITIONS"} <= _env_names(c)
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_secret_is_a_placeholder():
    secret = _one("Secret", "goalpost-api-keys")
    assert "REPLACE-ME" in secret["stringData"]["GOALPOST_API_KEYS"]


def test_the_ledger_keeps_its_rule_store_on_a_persistent_volume():
    env = {e["name"]: e["value"] for e in _container("ledger").get("env", []) if "value" in e}
    store_dir = str(Path(env["GOALPOST_LEDGER_STORE"]).parent)
    mounts = {m["mountPath"]: m["name"] for m in _container("ledger")["volumeMounts"]}
    claims = {c["metadata"]["name"]: c for c in _workload("ledger")["spec"]["volumeClaimTemplates"]}
    assert claims[mounts[store_dir]]["spec"]["accessModes"] == ["ReadWriteOnce"]  # a volume per worker
