"""Every validation rule of the ingest, each with a rejected example."""
from datetime import datetime, timedelta, timezone

import pytest

from services.ingest.logic import (
    MAX_TEXT_CHARS,
    ValidationError,
    new_id,
    normalise_tags,
    normalise_text,
    parse_timestamp,
    validate_post,
    validate_reaction,
    validate_relation,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def post(**kw):
    return {"author_id": "u1", "text": "How do I start running?", **kw}


def rejected(fn, data, field):
    with pytest.raises(ValidationError) as exc:
        fn(data)
    assert exc.value.field == field, exc.value
    return exc.value


def test_valid_post_is_normalised_and_gets_ids():
    p = validate_post(post(tags=["#Running", "long distance", "running"]), source="http", now=NOW)
    assert p.post_id.startswith("p_") and p.created_at == "2026-11-26T12:00:00.000Z"
    assert p.tags == ["running", "long-distance"] and p.source == "http" and p.reply_to is None


@pytest.mark.parametrize("data,field", [
    ({"text": "hi"}, "author_id"),
    ({"author_id": "u1"}, "text"),
    (post(text=""), "text"),
    (post(text=" \x00\x07 "), "text"),
    (post(text="x" * (MAX_TEXT_CHARS + 1)), "text"),
    (post(text=42), "text"),
    (post(author_id="has space"), "author_id"),
    (post(author_id="u" * 200), "author_id"),
    (post(post_id=""), "post_id"),
    (post(reply_to=7), "reply_to"),
    (post(tags="running"), "tags"),
    (post(tags=[1]), "tags[0]"),
    (post(tags=["t" * 60]), "tags[0]"),
    (post(tags=[f"t{i}" for i in range(11)]), "tags"),
    (post(created_at="yesterday"), "created_at"),
    (post(created_at="2026-11-26T12:00:00"), "created_at"),
    (post(created_at="1999-12-31T23:59:59Z"), "created_at"),
    (post(created_at="2027-01-01T00:00:00Z"), "created_at"),
    ([1, 2], "$"),
])
def test_invalid_posts_name_the_field(data, field):
    rejected(lambda d: validate_post(d, source="http", now=NOW), data, field)


def test_text_is_nfc_and_control_characters_are_stripped():
    assert normalise_text("Cafe\u0301\x00 time\x1b") == "Caf\u00e9 time"
    assert normalise_text("line one\nline two\t!") == "line one\nline two\t!"


def test_text_length_counts_after_normalisation():
    # 4,000 decomposed characters + combining marks compose to 4,000 characters: accepted
    assert len(normalise_text("e\u0301" * MAX_TEXT_CHARS)) == MAX_TEXT_CHARS


def test_timestamps_are_normalised_to_utc():
    assert parse_timestamp("2026-11-26T13:30:00+01:30", NOW) == "2026-11-26T12:00:00.000Z"
    assert parse_timestamp("2026-11-26T12:04:00Z", NOW)  # small clock skew is fine
    with pytest.raises(ValidationError):
        parse_timestamp((NOW + timedelta(minutes=10)).isoformat(), NOW)


def test_ids_are_time_ordered_and_unique():
    ids = [new_id("p", now_ms=1_700_000_000_000 + i) for i in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200
    assert len({new_id("p", now_ms=5) for _ in range(1000)}) == 1000
    same_ms = [new_id("p", now_ms=7) for _ in range(1000)]  # counted up within a millisecond
    assert same_ms == sorted(same_ms) and len(set(same_ms)) == 1000
    assert new_id("p", now_ms=0).startswith("p_0000000000") and not new_id("p", now_ms=1).startswith("p_0000000000")


def test_tags_empty_and_none():
    assert normalise_tags(None) == [] and normalise_tags(["  ", "#"]) == []


def test_reactions_and_relations():
    r = validate_reaction({"actor_id": "u2", "post_id": "p1", "kind": "accept"}, now=NOW)
    assert r.reaction_id.startswith("r_") and r.kind == "accept"
    rejected(lambda d: validate_reaction(d, now=NOW), {"actor_id": "u2", "post_id": "p1", "kind": "love"}, "kind")
    rejected(lambda d: validate_reaction(d, now=NOW), {"actor_id": "u2", "kind": "thanks"}, "post_id")
    rel = validate_relation({"actor_id": "u1", "target_id": "u2", "kind": "block"}, now=NOW)
    assert rel.relation_id.startswith("rel_")
    rejected(lambda d: validate_relation(d, now=NOW), {"actor_id": "u1", "target_id": "u1", "kind": "follow"}, "target_id")
    rejected(lambda d: validate_relation(d, now=NOW), {"actor_id": "u1", "target_id": "u2", "kind": "mute"}, "kind")


def test_helper_actions_are_validated_with_the_field_named():
    from datetime import datetime, timezone

    from services.ingest.logic import ValidationError, validate_helper_action
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    ok = validate_helper_action({"helper_id": "h1", "post_id": "p1", "action": "snooze",
                                 "until": "2026-12-02T08:00:00Z"}, now)
    assert ok.until == "2026-12-02T08:00:00.000Z" and ok.action_id.startswith("act") and ok.helper_id == "h1"
    assert validate_helper_action({"helper_id": "h1", "post_id": "p1", "action": "decline"}, now).until is None
    bad = [({"helper_id": "h1", "post_id": "p1", "action": "ignore"}, "action"),
           ({"helper_id": "h1", "post_id": "p1", "action": "snooze"}, "until"),
           ({"helper_id": "h1", "post_id": "p1", "action": "snooze", "until": "2027-12-01T00:00:00Z"}, "until"),
           ({"helper_id": "h1", "post_id": "p1", "action": "done", "until": "2026-12-02T08:00:00Z"}, "until"),
           ({"post_id": "p1", "action": "done"}, "helper_id")]
    for data, field in bad:
        with pytest.raises(ValidationError) as exc:
            validate_helper_action(data, now)
        assert exc.value.field == field


def test_adjustments_need_a_whole_non_zero_delta_and_a_reason():
    from services.ingest.logic import ValidationError, validate_adjustment
    ok = validate_adjustment({"user_id": "u1", "delta": -40, "reason": "vote ring"})
    assert (ok.user_id, ok.delta, ok.reason) == ("u1", -40, "vote ring") and ok.adjustment_id
    for bad, field in [({"delta": 0}, "delta"), ({"delta": "5"}, "delta"), ({"delta": 10**9}, "delta"),
                       ({"delta": False}, "delta"), ({"reason": ""}, "reason"), ({"reason": "x" * 501}, "reason"),
                       ({"user_id": "bad id"}, "user_id")]:
        with pytest.raises(ValidationError) as exc:
            validate_adjustment({"user_id": "u1", "delta": 5, "reason": "r", **bad})
        assert exc.value.field == field
