"""The Prometheus configuration, the alert rules and their promtool unit tests
(deploy/prometheus/alerts.test.yml), checked with the real promtool (Debian's `prometheus`
package, installed by deploy/setup.sh). Without promtool these tests fail when CI or
GOALPOST_REQUIRE_STACK is set, and skip only on a developer's machine where neither is.
The metric names used by the alerts and the Grafana dashboard are checked against the code."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy/prometheus"
DASHBOARD = ROOT / "deploy/grafana/dashboards/goalpost.json"
METRIC_DEF = re.compile(r"\b(Counter|Gauge|Histogram|Summary|GaugeMetricFamily)\(\s*[\"'](goalpost_\w+)[\"']")
METRIC_USE = re.compile(r"\bgoalpost_\w+")


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        msg = "promtool not found (Debian: apt-get install prometheus; deploy/setup.sh installs it)"
        if os.environ.get("CI") or os.environ.get("GOALPOST_REQUIRE_STACK"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def run(promtool: str, *args: str) -> None:
    proc = subprocess.run([promtool, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


def test_local_prometheus_config_is_valid(promtool):
    # also checks the rule files it names (alerts.yml, relative to the config)
    run(promtool, "check", "config", "deploy/prometheus/prometheus.local.yml")


def test_alert_rules_are_valid(promtool):
    run(promtool, "check", "rules", "deploy/prometheus/alerts.yml")


def test_alert_rule_unit_tests_pass(promtool):
    run(promtool, "test", "rules", "deploy/prometheus/alerts.test.yml")


# ---------------------------------------------------------------- without promtool

def alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def dashboard_exprs() -> list[str]:
    def walk(panels: list[dict]):
        for p in panels:
            yield from walk(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr"):
                    yield t["expr"]
    return list(walk(json.loads(DASHBOARD.read_text())["panels"]))


def exported_series() -> set[str]:
    """Every goalpost_* series name the services' prometheus_client metrics expose."""
    names: set[str] = set()
    for f in (ROOT / "services").rglob("*.py"):
        for kind, name in METRIC_DEF.findall(f.read_text()):
            if kind == "Counter":
                base = name.removesuffix("_total")
                names |= {f"{base}_total", f"{base}_created"}
            elif kind in ("Histogram", "Summary"):
                names |= {name, f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
            else:
                names.add(name)
    return names


def test_every_alert_has_a_firing_and_a_quiet_case():
    cases = yaml.safe_load((PROM / "alerts.test.yml").read_text())
    assert cases["rule_files"] == ["alerts.yml"]
    fires: dict[str, bool] = {}
    quiet: dict[str, bool] = {}
    for test in cases["tests"]:
        for check in test.get("alert_rule_test", []):
            name = check["alertname"]
            if check.get("exp_alerts"):
                fires[name] = True
            else:
                quiet[name] = True
    names = {r["alert"] for r in alert_rules()}
    assert len(names) >= 5
    assert names - set(fires) == set(), "alerts without a case where they fire"
    assert names - set(quiet) == set(), "alerts without a case where they stay quiet"
    assert set(fires) | set(quiet) <= names, "cases for alerts that do not exist"


def test_alerts_and_dashboard_use_only_metrics_the_code_exports():
    exported = exported_series()
    assert {"goalpost_http_requests_total", "goalpost_consumer_lag_messages",
            "goalpost_http_request_seconds_bucket"} <= exported
    exprs = [r["expr"] for r in alert_rules()] + dashboard_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        used = set(METRIC_USE.findall(expr))
        unknown = used - exported
        assert not unknown, f"{expr!r} uses metrics no service exports: {sorted(unknown)}"
