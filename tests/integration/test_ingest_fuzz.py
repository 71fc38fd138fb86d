"""Fuzzing the ingest HTTP API from its OpenAPI document (hypothesis): arbitrary JSON, arbitrary
bytes and mutations of valid bodies never produce a 5xx; every refusal is problem+json naming a
field, and every 202 answers with the id of what was written."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.openapi import openapi_document

DOC = openapi_document()
WRITE_ROUTES = {path: op["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
                for path, op in DOC["paths"].items() if "requestBody" in op.get("post", {})}
SCHEMAS = DOC["components"]["schemas"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


def field_values(prop: dict):
    """Valid-looking and invalid values for one schema property."""
    options = [json_values, st.text(max_size=300)]
    if "enum" in prop:
        options.append(st.sampled_from(prop["enum"]))
    if prop.get("format") == "date-time":
        options.append(st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(lambda d: d.isoformat()))
    if prop.get("type") == "array":
        options.append(st.lists(st.text(max_size=60), max_size=12))
    return st.one_of(*options)


def bodies(schema_name: str):
    schema = SCHEMAS[schema_name]
    if schema.get("type") == "array":
        return st.lists(bodies("PostInput"), min_size=0, max_size=5)
    props = schema["properties"]
    return st.fixed_dictionaries({}, optional={name: field_values(p) for name, p in props.items()})


def check(status: int, headers: dict, body, path: str) -> None:
    assert status < 500, (path, status, body)
    if status >= 400:
        assert headers.get("Content-Type", "").startswith("application/problem+json"), (path, status, body)
        assert body["status"] == status and body["detail"]
        if status in (400, 422):
            assert body.get("field"), body
    elif status == 202 and path != "/v1/posts/batch":
        assert any(k.endswith("_id") for k in body), body


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(sorted(WRITE_ROUTES)), data=st.data())
def test_schema_driven_bodies_never_cause_5xx(http, path, data):
    body = data.draw(bodies(WRITE_ROUTES[path]))
    status, headers, parsed = http.request("POST", "ingest", path, raw=json.dumps(body).encode())
    check(status, headers, parsed, path)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(sorted(WRITE_ROUTES)), raw=st.one_of(st.binary(max_size=300), json_values.map(
    lambda v: json.dumps(v).encode())))
def test_arbitrary_bytes_never_cause_5xx(http, path, raw):
    status, headers, parsed = http.request("POST", "ingest", path, raw=raw)
    check(status, headers, parsed, path)
