"""Fuzzing the read services' routes from their OpenAPI documents (hypothesis): arbitrary path
and query values never produce a 5xx, every refusal is problem+json (naming the field for a
422), and each service serves its document at GET /openapi.json."""
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.openapi import classify_document, ledger_document, match_document
from services.ledger.views import RECENT_ENTRIES, WINDOWS

DOCS = {"classify": classify_document(), "match": match_document(), "ledger": ledger_document(WINDOWS, RECENT_ENTRIES)}
GETS = [(service, path, op["get"]) for service, doc in DOCS.items() for path, op in doc["paths"].items() if "get" in op]
# Printable text: a control character in a path matches no route at all (the web server's own 404).
values = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40) | st.integers(-10**6, 10**6).map(str) | st.sampled_from(["", "0", "all", "day", "week", "%", "../x"])


@pytest.mark.parametrize("service", sorted(DOCS))
def test_each_service_serves_its_document(http, service):
    status, body = http.get(service, "/openapi.json")
    assert status == 200 and body == DOCS[service]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(GETS), data=st.data())
def test_schema_driven_reads_never_cause_5xx(http, route, data):
    service, template, op = route
    path, query = template, {}
    for param in op["parameters"]:
        value = data.draw(values)
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", urllib.parse.quote(value or "x", safe=""))
        elif data.draw(st.booleans()):
            query[param["name"]] = value
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    status, headers, body = http.request("GET", service, url)
    assert status < 500, (url, status, body)
    assert str(status) in op["responses"], (url, status)   # every answer is documented
    if status >= 400:
        assert headers.get("Content-Type", "").startswith("application/problem+json"), (url, status, body)
        if status == 422:
            assert body.get("field") in {p["name"] for p in op["parameters"]}, body
