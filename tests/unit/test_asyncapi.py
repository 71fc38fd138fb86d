"""docs/asyncapi.yaml describes exactly the contract topics, with their keys and schema files."""
import json
from pathlib import Path

import pytest
import yaml

from services.core.contracts import TOPICS

DOCS = Path(__file__).resolve().parents[2] / "docs"
API = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
CHANNELS = {c["address"]: c for c in API["channels"].values()}
# What ingest fills in on the raw topics (SPEC.md: post_id/reaction_id and created_at optional).
ASSIGNED_BY_INGEST = {"posts.raw.v1": {"post_id", "created_at"}, "reactions.raw.v1": {"reaction_id", "created_at"}}


def _local(ref: str):
    assert ref.startswith("#/"), ref
    node = API
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _external(ref: str):
    """Loads `file.json#/pointer` relative to docs/; the file must exist and the pointer resolve."""
    filename, _, pointer = ref.partition("#")
    path = (DOCS / filename).resolve()
    assert path.is_file(), f"{ref}: {path} does not exist"
    node = json.loads(path.read_text())
    for part in filter(None, pointer.split("/")):
        node = node[part]
    return path, node


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _messages(topic: str) -> list[dict]:
    return [_local(m["$ref"]) if "$ref" in m else m for m in CHANNELS[topic]["messages"].values()]


def test_is_asyncapi_3():
    assert str(API["asyncapi"]).startswith("3.0")


def test_lists_exactly_the_contract_topics():
    addresses = [c["address"] for c in API["channels"].values()]
    assert sorted(addresses) == sorted(TOPICS)
    assert len(addresses) == len(set(addresses))


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_each_topic_has_its_key_field_and_record_schema(topic):
    spec = TOPICS[topic]
    (message,) = _messages(topic)
    assert message["x-key-field"] == spec.key_field
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    schema = message["payload"]["schema"]
    files = {(DOCS / r.partition("#")[0]).resolve() for r in _refs(schema)}
    assert {f.name for f in files} == {f"{spec.record}.json"}
    if topic in ASSIGNED_BY_INGEST:  # the input form: the record's fields, minus what ingest assigns
        _, record_schema = _external(f"../services/core/schemas/{spec.record}.json")
        assert set(schema["properties"]) <= set(record_schema["properties"])
        assert set(schema["required"]) == set(record_schema["required"]) - ASSIGNED_BY_INGEST[topic]
    else:
        path, record_schema = _external(schema["$ref"])
        assert record_schema["x-topic"] == topic
        assert record_schema["x-key"] == spec.key_field


def test_every_referenced_schema_file_exists():
    external = [r for r in _refs(API) if not r.startswith("#")]
    assert external
    for ref in external:
        _external(ref)
    for ref in _refs(API):
        if ref.startswith("#"):
            _local(ref)


def test_every_channel_has_an_operation():
    used = {_local(op["channel"]["$ref"])["address"] for op in API["operations"].values()}
    assert used == set(TOPICS)
    raw = {t for t in TOPICS if ".raw." in t}
    for op in API["operations"].values():
        address = _local(op["channel"]["$ref"])["address"]
        assert op["action"] == ("receive" if address in raw else "send"), address
