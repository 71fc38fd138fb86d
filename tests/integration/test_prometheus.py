"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes the running stack with the
configuration of deploy/prometheus/prometheus.local.yml (short intervals, temp storage, loopback,
a free port): every service is scraped up, the alert rules load and evaluate, and every PromQL
expression of the Grafana dashboard and of alerts.yml is accepted by its query API."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from services.core.settings import SERVICE_PORTS, port_of
from tests.integration.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy/prometheus"
DASHBOARD = ROOT / "deploy/grafana/dashboards/goalpost.json"
WAIT_S = 60


def _alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def _dashboard_exprs() -> list[tuple[str, str]]:
    def walk(panels: list[dict]) -> Iterator[tuple[str, str]]:
        for p in panels:
            yield from walk(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr"):
                    yield p.get("title", "?"), t["expr"]
    return list(walk(json.loads(DASHBOARD.read_text())["panels"]))


EXPRESSIONS = ([pytest.param(e, id=f"dashboard:{title}") for title, e in _dashboard_exprs()]
               + [pytest.param(r["expr"], id=f"alert:{r['alert']}") for r in _alert_rules()])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: str) -> dict[str, Any]:
        url = f"{self.base}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:  # 400/422 carry {"status": "error", "error": ...}
            body = e.read()
            try:
                return json.loads(body)
            except ValueError:
                return {"status": "error", "error": f"HTTP {e.code}: {body[:500]!r}"}

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

    def vector(self, expr: str) -> list[dict[str, Any]]:
        answer = self.query(expr)
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]["result"]


@pytest.fixture(scope="module")
def prometheus(stack, tmp_path_factory) -> Iterator[Prometheus]:
    binary = "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else shutil.which("prometheus")
    if binary is None:
        msg = "prometheus not found (Debian: apt-get install prometheus; deploy/setup.sh installs it)"
        if os.environ.get("GOALPOST_REQUIRE_STACK") or os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)

    work = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((PROM / "prometheus.local.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROM / f) for f in config["rule_files"]]
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = open(work / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work)

    def log_tail() -> str:
        log.flush()
        return "\n".join((work / "prometheus.log").read_text(errors="replace").splitlines()[-30:])

    try:
        prom = Prometheus(f"http://127.0.0.1:{port}")

        def ready() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited with {proc.returncode}:\n{log_tail()}")
            try:
                with urllib.request.urlopen(f"{prom.base}/-/ready", timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, OSError):
                return False

        wait_for(ready, timeout=WAIT_S, what="prometheus /-/ready")
        yield prom
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()
        assert proc.poll() is not None, "prometheus is still running"


@pytest.fixture(scope="module")
def scraped(prometheus: Prometheus) -> Prometheus:
    """Waits until every service of the stack is scraped with up == 1."""
    expected = {f"127.0.0.1:{port_of(s)}" for s in SERVICE_PORTS}

    def all_up() -> dict[str, str] | None:
        answer = prometheus.get("/api/v1/targets", state="active")
        if answer.get("status") != "success":
            return None
        health = {t["labels"]["instance"]: t["health"] for t in answer["data"]["activeTargets"]
                  if t["labels"].get("job") == "goalpost"}
        return health if set(health) == expected and set(health.values()) == {"up"} else None

    wait_for(all_up, timeout=WAIT_S, what=f"targets {sorted(expected)} scraped up")

    def up_is_one() -> bool:
        result = prometheus.vector('up{job="goalpost"}')
        return {r["metric"]["instance"]: r["value"][1] for r in result} == {i: "1" for i in expected}

    wait_for(up_is_one, timeout=WAIT_S, what='up{job="goalpost"} == 1 for every service')
    return prometheus


def test_the_local_config_scrapes_every_service_of_the_stack():
    config = yaml.safe_load((PROM / "prometheus.local.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"127.0.0.1:{port_of(s)}" for s in SERVICE_PORTS}


def test_every_service_is_scraped_up(scraped: Prometheus):
    result = scraped.vector('up{job="goalpost"} == 1')
    assert len(result) == len(SERVICE_PORTS)


def test_key_series_exist_for_every_service(scraped: Prometheus):
    services = set(SERVICE_PORTS)
    for metric in ("goalpost_http_requests_total", "goalpost_consumer_lag_messages"):
        def present(metric: str = metric) -> set[str] | None:
            found = {r["metric"].get("service") for r in scraped.vector(f"count by (service) ({metric})")}
            return found if found >= services else None
        wait_for(present, timeout=WAIT_S, what=f"{metric} for every service")


def test_alert_rules_load_and_evaluate(scraped: Prometheus):
    expected = {r["alert"] for r in _alert_rules()}

    def evaluated() -> dict[str, Any] | None:
        answer = scraped.get("/api/v1/rules", type="alert")
        assert answer["status"] == "success", answer
        rules = {r["name"]: r for g in answer["data"]["groups"] for r in g["rules"]}
        if set(rules) != expected or any(r["health"] == "unknown" for r in rules.values()):
            return None
        return rules

    rules = wait_for(evaluated, timeout=WAIT_S, what=f"alert rules {sorted(expected)} evaluated")
    bad = {name: r.get("lastError") for name, r in rules.items() if r["health"] != "ok"}
    assert not bad, bad


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_expression_is_accepted_by_prometheus(scraped: Prometheus, expr: str):
    answer = scraped.query(expr)
    assert answer["status"] == "success", f"{expr!r}: {answer.get('errorType')}: {answer.get('error')}"
    now = time.time()
    ranged = scraped.get("/api/v1/query_range", query=expr, start=f"{now - 300:.3f}", end=f"{now:.3f}", step="15")
    assert ranged["status"] == "success", f"{expr!r}: {ranged.get('errorType')}: {ranged.get('error')}"
