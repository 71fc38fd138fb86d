"""Scoped API keys on the real stack: every data route answers 401 without a key and 403 with
a key that lacks the route's scope (keys of each scope: deploy/test.sh)."""
from pathlib import Path

import pytest

from services.core.auth import entries
from services.core.settings import env

READ_ROUTES = [("match", "/v1/posts/p1/matches"), ("match", "/v1/helpers/u1/inbox"),
               ("ledger", "/v1/users/u1/balance"), ("ledger", "/v1/users/u1/entries"),
               ("ledger", "/v1/leaderboard?window=all&limit=3"), ("ingest", "/openapi.json")]


def key_with(scopes: set[str]) -> str:
    for _, key, held in entries(Path(env("GOALPOST_API_KEYS_FILE")).read_text()):
        if held == scopes:
            return key
    pytest.fail(f"no key with exactly {scopes} in GOALPOST_API_KEYS_FILE (deploy/test.sh writes them)")


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("service,path", READ_ROUTES)
def test_read_routes_need_a_key_with_the_read_scope(http, service, path):
    status, headers, body = http.request("GET", service, path, auth=False)
    assert status == 401 and body["status"] == 401 and "Bearer" in headers.get("WWW-Authenticate", "")
    assert headers["Content-Type"].startswith("application/problem+json")
    status, _, body = http.request("GET", service, path, auth=False, headers=bearer(key_with({"write"})))
    assert status == 403 and "read" in body["detail"]
    status, _, _ = http.request("GET", service, path, auth=False, headers=bearer(key_with({"read"})))
    assert status in (200, 404)  # past the check: the route's own answer (no match for p1: 404)


def test_write_routes_need_the_write_scope(http, run_id):
    post = {"author_id": f"{run_id}-a", "text": "How do I start running?"}
    assert http.request("POST", "ingest", "/v1/posts", post, auth=False)[0] == 401
    status, _, body = http.request("POST", "ingest", "/v1/posts", post, auth=False, headers=bearer(key_with({"read"})))
    assert status == 403 and "write" in body["detail"]
    status, _, _ = http.request("POST", "ingest", "/v1/posts", post, auth=False, headers=bearer(key_with({"write"})))
    assert status == 202


def test_classify_route_needs_the_read_scope(http):
    body = {"text": "I want to learn Spanish this year"}
    assert http.request("POST", "classify", "/v1/classify", body, auth=False)[0] == 401
    assert http.request("POST", "classify", "/v1/classify", body, auth=False, headers=bearer(key_with({"write"})))[0] == 403
    assert http.request("POST", "classify", "/v1/classify", body, auth=False, headers=bearer(key_with({"read"})))[0] == 200
