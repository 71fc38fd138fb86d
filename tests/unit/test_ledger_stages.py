"""The ledger's two stages (resolver keyed by post, workers keyed by user) write exactly the
entries of the one-stage rules, whatever the users' split over workers: caps, reversals,
serial votes, rings, accepts, erasures."""
from __future__ import annotations

import dataclasses
import random

import orjson

from services.core.contracts import Credit
from services.core.kafka_io import partition_for
from services.ledger.rules import LedgerState, apply_event, load_rules, resolve_event
from services.ledger.settle import UserState, apply_credit

RULES = load_rules()
# Small thresholds, so that random events hit the cap, serial voting and rings often.
TIGHT = dataclasses.replace(RULES, daily_vote_cap=25, serial_votes=3, ring_min_pair_count=2, ring_rate_ratio=1)


def random_events(seed: int, n: int = 3000, users: int = 12) -> list[dict]:
    rng = random.Random(seed)
    people = [f"u{i}" for i in range(users)]
    posts: list[tuple[str, str, str | None]] = []  # (post_id, author, reply_to)
    out: list[dict] = []
    for i in range(n):
        day = f"2026-11-{2 + i // 700:02d}T10:00:00.000Z"
        roll = rng.random()
        if roll < 0.2 or not posts:
            author = rng.choice(people)
            roots = [p for p, _, parent in posts if parent is None]
            reply_to = rng.choice(roots) if roots and rng.random() < 0.7 else None
            pid = f"p{i}"
            posts.append((pid, author, reply_to))
            out.append({"type": "post", "post_id": pid, "author_id": author, "reply_to": reply_to,
                        "created_at": day})
        elif roll < 0.25:
            roots = [p for p, _, parent in posts if parent is None]
            if roots:
                out.append({"type": "match", "post_id": rng.choice(roots), "candidates": [
                    {"helper_id": h, "score": 1.0} for h in rng.sample(people, 3)], "matched_at": day})
        elif roll < 0.27:
            out.append({"type": "adjustment", "adjustment_id": f"a{i}", "user_id": rng.choice(people),
                        "delta": rng.choice((-3, 4)), "created_at": day})
        elif roll < 0.275:
            out.append({"type": "erasure", "user_id": rng.choice(people), "requested_at": day})
        else:
            pid, author, reply_to = rng.choice(posts)
            root_author = next((a for p, a, _ in posts if p == reply_to), None)
            kind = rng.choice(("upvote", "upvote", "upvote", "downvote", "unvote", "thanks", "accept", "unaccept"))
            actor = root_author if kind in ("accept", "unaccept") and root_author and rng.random() < 0.8 \
                else rng.choice(people)
            out.append({"type": "reaction", "reaction_id": f"r{i}", "actor_id": actor, "post_id": pid,
                        "kind": kind, "created_at": day})
    return out


def one_stage(events: list[dict], rules) -> tuple[list[dict], LedgerState]:
    state = LedgerState()
    entries = []
    for ev in events:
        entries += [e.to_dict() for e in apply_event(state, ev, rules)]
    return entries, state


def two_stages(events: list[dict], rules, workers: int) -> tuple[list[dict], list[UserState], list[Credit]]:
    """The resolver, then each credit through the wire format to the worker of its user's
    partition (8 partitions over `workers`)."""
    resolver = LedgerState()
    owners = [UserState() for _ in range(workers)]
    entries, credits = [], []
    for ev in events:
        for credit in resolve_event(resolver, ev, rules):
            credits.append(credit)
            owner = owners[partition_for(credit.key(), 8) % workers]
            decoded = orjson.loads(credit.to_json())
            entries += [e.to_dict() for e in apply_credit(owner, decoded, rules)]
    return entries, owners, credits


def test_two_stages_write_the_entries_of_the_one_stage_rules():
    for seed in range(4):
        events = random_events(seed)
        for rules in (RULES, TIGHT):
            expected, state = one_stage(events, rules)
            for workers in (1, 2, 3):
                got, owners, _ = two_stages(events, rules, workers)
                assert got == expected, (seed, workers)
                merged = {u: b for o in owners for u, b in (o.balances or {}).items()}
                assert merged == state.balances
    # the tight rules did exercise what is per user
    reasons = {e["reason"] for e in one_stage(random_events(0), TIGHT)[0]}
    assert {"upvote:capped", "serial_vote_reversal", "upvote:reversed"} <= reasons
    assert any(r.endswith(":dampened") for r in reasons)


def test_a_ring_across_two_workers_is_damped():
    rules = dataclasses.replace(RULES, ring_min_pair_count=3)
    # two users whose partitions fall on different workers
    a, b = next((x, y) for x in (f"a{i}" for i in range(50)) for y in (f"b{i}" for i in range(50))
                if partition_for(x.encode(), 8) % 2 != partition_for(y.encode(), 8) % 2)
    events = [{"type": "post", "post_id": f"{u}{i}", "author_id": u, "reply_to": None,
               "created_at": "2026-11-02T10:00:00Z"} for u in (a, b) for i in range(5)]
    for i in range(5):
        for giver, receiver in ((a, b), (b, a)):
            events.append({"type": "reaction", "reaction_id": f"{giver}>{receiver}{i}", "actor_id": giver,
                           "post_id": f"{receiver}{i}", "kind": "thanks", "created_at": "2026-11-02T10:00:00Z"})
    got, owners, _ = two_stages(events, rules, 2)
    assert got == one_stage(events, rules)[0]
    dampened = [e for e in got if e["reason"] == "thanks:dampened"]
    assert {e["user_id"] for e in dampened} == {a, b}
    assert all(e["delta"] == RULES.thanks * RULES.ring_damping_percent // 100 for e in dampened)
    assert all(o.balances for o in owners)  # each worker paid one of them


def test_credits_are_records_of_the_contract():
    _, _, credits = two_stages(random_events(1, n=400), RULES, 2)
    assert {c.op for c in credits} == {"grant", "reverse", "erase"}
    for c in credits:
        assert Credit.from_json(c.to_json()) == c


def test_a_worker_restored_from_its_checkpoint_goes_on_as_before(tmp_path):
    from services.ledger.store import StateStore

    events = random_events(2)
    _, _, credits = two_stages(events, TIGHT, 1)
    half = len(credits) // 2
    store = StateStore(tmp_path / "w.sqlite", capacity=50)
    live = UserState(store)
    for c in credits[:half]:
        apply_credit(live, orjson.loads(c.to_json()), TIGHT)
        live.evict()
    store.checkpoint({"state": live.small_parts()})
    restored = UserState.restore(store, store.meta()["state"])
    rest = [e.to_dict() for c in credits[half:] for e in apply_credit(restored, orjson.loads(c.to_json()), TIGHT)]
    reference = UserState()
    for c in credits[:half]:
        apply_credit(reference, orjson.loads(c.to_json()), TIGHT)
    assert rest == [e.to_dict() for c in credits[half:] for e in apply_credit(reference, orjson.loads(c.to_json()), TIGHT)]
    store.close()
