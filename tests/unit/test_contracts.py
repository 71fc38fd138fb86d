"""The wire contract: golden payloads still decode, schemas match the code, encoding is plain JSON."""
import json
from pathlib import Path

import jsonschema
import orjson
import pytest
from referencing import Registry, Resource

from services.core.contracts import (
    RECORDS,
    TOPICS,
    ContractError,
    DeadLetter,
    Match,
    Post,
    json_schema,
    record_for_topic,
    utc_day,
)
from services.core.schemas import SCHEMA_DIR, rendered_schemas

GOLDEN = Path(__file__).resolve().parents[2] / "services" / "core" / "golden"
GOLDEN_FILES = sorted(GOLDEN.glob("*.v1.json"))


def test_every_topic_record_has_a_golden_payload():
    names = {p.name.split(".")[0] for p in GOLDEN_FILES}
    assert {spec.record for spec in TOPICS.values()} <= names


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.name)
def test_golden_payload_decodes_and_round_trips(path):
    cls = RECORDS[path.name.split(".")[0]]
    raw = json.loads(path.read_text())
    record = cls.from_json(path.read_bytes())
    assert record.to_dict() == raw  # nothing lost, nothing added on the wire
    assert json.loads(record.to_json()) == raw  # the fast encoder writes the same fields


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.name)
def test_golden_payload_fits_its_committed_schema(path):
    name = path.name.split(".")[0]
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    registry = Registry().with_resources(
        (f"{n}.json", Resource.from_contents(json.loads((SCHEMA_DIR / f"{n}.json").read_text()))) for n in RECORDS)
    jsonschema.Draft202012Validator(schema, registry=registry).validate(json.loads(path.read_text()))


def test_committed_schemas_match_the_code():
    for filename, text in rendered_schemas().items():
        assert (SCHEMA_DIR / filename).read_text() == text, f"run `goalpost contracts` ({filename} is stale)"


def test_wire_format_has_no_framework_metadata():
    post = Post(post_id="p1", author_id="u1", text="hi", created_at="2026-01-01T00:00:00.000Z")
    data = orjson.loads(post.to_json())
    assert set(data) == {"post_id", "author_id", "text", "created_at", "reply_to", "tags", "source"}
    assert post.key() == b"u1"


def test_keys_follow_the_partitioning_decision():
    assert TOPICS["posts.v1"].key_field == "author_id"
    assert TOPICS["reactions.v1"].key_field == "post_id"
    assert TOPICS["matches.v1"].key_field == "post_id"
    assert TOPICS["ledger.entries.v1"].key_field == "user_id"
    assert TOPICS["ledger.balances.v1"].compacted


def test_missing_and_mistyped_fields_are_named():
    with pytest.raises(ContractError) as exc:
        Post.from_dict({"post_id": "p1", "text": "x", "created_at": "2026-01-01T00:00:00Z"})
    assert exc.value.field == "author_id"
    with pytest.raises(ContractError) as exc:
        Match.from_dict({"post_id": "p", "author_id": "a", "intent": "goal", "topics": [],
                         "candidates": [{"helper_id": "h", "score": "high"}], "matched_at": "", "model_version": "m"})
    assert exc.value.field == "score"
    with pytest.raises(ContractError) as exc:
        Post.from_json(b"\xff\xfe not json")
    assert exc.value.field == "$"


def test_dead_letter_keeps_original_bytes_and_uses_topic_field():
    dl = DeadLetter.of("ingest", "posts.raw.v1", 1, 7, "text: must not be empty", b"\x00raw")
    wire = orjson.loads(dl.to_json())
    assert wire["topic"] == "posts.raw.v1" and "topic_name" not in wire
    assert DeadLetter.from_dict(wire) == dl
    assert dl.key() == b"ingest"


def test_every_topic_maps_to_a_record_with_a_schema():
    for name in TOPICS:
        cls = record_for_topic(name)
        assert json_schema(cls)["title"] == cls.__name__


def test_dumps_gives_the_same_bytes_as_orjson_in_an_object_of_their_own():
    import orjson

    from services.core.contracts import dumps
    value = {"post_id": "p1", "tags": ["a", "b"], "n": 3}
    out = dumps(value)
    assert type(out) is bytes and out == orjson.dumps(value)


def test_utc_day_of_a_timestamp():
    assert utc_day("2026-11-26T23:59:59.999Z") == "2026-11-26"  # the prefix
    assert utc_day("2026-11-26T23:30:00-01:00") == "2026-11-27"  # an offset moves it across midnight
    assert utc_day("2026-11-27T00:30:00+02:00") == "2026-11-26"
    assert utc_day("2026-11-26T23:30:00") == "2026-11-26"  # no offset: UTC


def test_topics_are_created_with_min_insync_and_under_replicated_ones_reported():
    from services.core.topics import TopicsReport, topic_configs, under_replicated, warnings
    assert topic_configs("posts.v1", 2)["min.insync.replicas"] == "2"
    assert topic_configs("ledger.balances.v1", 2)["cleanup.policy"] == "compact"
    described = [{"topic": "posts.v1", "partitions": [{"replicas": [1, 2, 3]}, {"replicas": [1]}]},
                 {"topic": "matches.v1", "partitions": [{"replicas": [1, 2, 3]}]}]
    assert under_replicated(described, 3) == {"posts.v1": 1}
    assert under_replicated(described, 1) == {}
    (text,) = warnings(TopicsReport([], {"posts.v1": 1}), 3)
    assert "warning: topic posts.v1 has 1 replica(s)" in text and "GOALPOST_TOPIC_REPLICATION=3" in text
