"""Health, readiness and metrics of every service, and the contract topics, on the real stack."""
import pytest

from services.core.settings import SERVICE_PORTS


@pytest.mark.parametrize("service", list(SERVICE_PORTS))
def test_health_readiness_and_metrics(http, service):
    assert http.get(service, "/healthz") == (200, {"status": "ok", "service": service})
    status, body = http.get(service, "/readyz")
    assert status == 200 and body["ready"] is True and body["problems"] == []
    status, text = http.get(service, "/metrics")
    assert status == 200 and "goalpost_http_requests_total" in text
    assert "goalpost_consumer_lag_messages{" in text  # lag per partition, exported by every consumer


def test_classify_route_refuses_bad_input(http):
    status, body = http.post("classify", "/v1/classify", {"text": ""})
    assert status == 422 and body["field"] == "text"
    status, body = http.post("classify", "/v1/classify", {"text": "I want to learn Spanish this year"})
    assert status == 200 and body["intent"] == "goal" and abs(sum(body["scores"].values()) - 1) < 1e-3


def test_ledger_routes_validate_queries(http):
    assert http.get("ledger", "/v1/leaderboard?window=year")[0] == 422
    assert http.get("ledger", "/v1/leaderboard?window=all&limit=0")[0] == 422
    status, body = http.get("ledger", "/v1/leaderboard?window=week&limit=3")
    assert status == 200 and body["window"] == "week" and len(body["leaders"]) <= 3


def test_unknown_post_has_no_match(http, run_id):
    status, body = http.get("match", f"/v1/posts/{run_id}:nope/matches")
    assert status == 404 and body["field"] == "post_id"
