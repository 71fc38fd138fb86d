"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""
import json
from pathlib import Path

import yaml

from services.core.settings import SERVICE_PORTS, VARIABLES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_has_the_stack():
    assert {"kafka", "redis", "prometheus", "grafana", *SERVICE_PORTS} <= set(SERVICES)
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:4.")
    assert SERVICES["redis"]["image"].startswith("redis:7")


def test_kafka_is_single_node_kraft_without_auto_create():
    env = SERVICES["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 1


def test_every_long_running_container_has_a_healthcheck():
    for name, svc in SERVICES.items():
        if name == "topics":
            continue
        assert "test" in svc.get("healthcheck", {}), name


def test_services_wait_for_healthy_dependencies_and_expose_their_ports():
    known = {v.name for v in VARIABLES}
    for name, port in SERVICE_PORTS.items():
        svc = SERVICES[name]
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        assert svc["command"] == ["python", "-m", f"services.{name}"]
        assert f"{port}:{port}" in svc["ports"]
        assert svc["environment"]["GOALPOST_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert {k for k in svc["environment"] if k.startswith("GOALPOST_")} <= known
        assert svc["environment"]["PORT"] == str(port)


def test_grafana_dashboard_and_prometheus_configs_parse():
    dash = json.loads((ROOT / "deploy/grafana/dashboards/goalpost.json").read_text())
    assert all(p["targets"][0]["expr"] for p in dash["panels"])
    for f in ("prometheus.compose.yml", "prometheus.local.yml", "alerts.yml"):
        assert yaml.safe_load((ROOT / "deploy/prometheus" / f).read_text())
