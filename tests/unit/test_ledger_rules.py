"""Ledger rules (services/ledger/rules.py): every rule, cap, reversal, self-dealing case and ring."""

from __future__ import annotations

import dataclasses
import json
import random
import tomllib
from pathlib import Path

import pytest

from services.ledger.rules import (
    RULES_PATH,
    Entry,
    InvalidEvent,
    LedgerState,
    RuleTable,
    UnknownPost,
    apply_event,
    balances_from_entries,
    entry_id_for,
    expire_pending,
    load_rules,
    replay,
)
from services.ledger.state import day_key

RULES = load_rules()
T0 = "2026-11-02T10:00:00Z"


# ------------------------------------------------------------------------------------- helpers


def post(pid, author, reply_to=None, t=T0):
    return {"type": "post", "post_id": pid, "author_id": author, "text": "x", "created_at": t,
            "reply_to": reply_to, "tags": [], "source": "test", "intent": "request",
            "confidence": 0.9, "scores": {}, "topics": [], "model_version": "t"}


def react(rid, actor, pid, kind, t=T0):
    return {"type": "reaction", "reaction_id": rid, "actor_id": actor, "post_id": pid,
            "kind": kind, "created_at": t}


def match(pid, author, helpers, matched_at=T0):
    return {"type": "match", "post_id": pid, "author_id": author, "intent": "request",
            "topics": [], "candidates": [{"helper_id": h, "score": 1.0, "reasons": []}
                                         for h in helpers],
            "matched_at": matched_at, "model_version": "t"}


def rules(**kw) -> RuleTable:
    return dataclasses.replace(RULES, **kw)


def run(events, r=RULES, state=None):
    st = state if state is not None else LedgerState()
    out = []
    for ev in events:
        out.extend(apply_event(st, ev, r))
    return st, out


def summary(entries):
    return [(e.user_id, e.delta, e.reason) for e in entries]


def thread():
    """q1 by asker; replies r1 by alice, r2 by bob."""
    return [post("q1", "asker"), post("r1", "alice", "q1"), post("r2", "bob", "q1")]


def check_journal(st, entries):
    ids = [e.entry_id for e in entries]
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    bal = balances_from_entries(e.to_dict() for e in entries)
    assert {u: b for u, b in bal.items() if b} == {u: b for u, b in st.balances.items() if b}


# ---------------------------------------------------------------------------------- rule table


def test_default_rule_table_has_the_issue_values():
    raw = tomllib.loads(RULES_PATH.read_text())
    assert raw["version"] == RULES.version and RULES.version
    assert (RULES.accept_author, RULES.accept_accepter) == (15, 2)
    assert (RULES.upvote_reply, RULES.upvote_root) == (10, 5)
    assert (RULES.downvote_author, RULES.downvote_voter) == (-2, -1)
    assert RULES.thanks == 5 and RULES.routed_helper_bonus > 0
    assert RULES.daily_vote_cap == 200
    assert RULES.post_root == RULES.post_reply == 0
    assert 0 <= RULES.ring_damping_percent < 100


def test_load_rules_from_a_path(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('version = "x-1"\n[points]\nthanks = 7\n[cap]\ndaily_vote_points = 50\n')
    r = load_rules(p)
    assert r.version == "x-1" and r.thanks == 7 and r.daily_vote_cap == 50
    assert r.accept_author == 15  # unspecified keys keep their defaults


@pytest.mark.parametrize("text", [
    '[points]\nthanks = 5\n',                                  # no version
    'version = "v"\n[points]\nthanks = 5.5\n',                 # float
    'version = "v"\n[points]\nthank = 5\n',                    # typo
    'version = "v"\n[rings]\ndamping_percent = 150\n',         # out of range
    'version = "v"\n[points]\nupvote_reply = -10\n',           # negative reward
    'version = "v"\n[rings]\npositive_kinds = ["downvote"]\n',
    'version = "v"\n[routing]\nrequire_match_before_reply = 1\n',
    'version = "v"\n[extra]\nx = 1\n',
])
def test_bad_rule_tables_are_rejected(tmp_path, text):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ValueError):
        load_rules(p)


# ----------------------------------------------------------------------------------- entries


def test_entry_matches_the_spec_ledger_entry_record():
    st, out = run(thread() + [react("a1", "asker", "r1", "accept")])
    d = out[0].to_dict()
    assert list(d) == ["entry_id", "user_id", "delta", "reason", "source_event_id", "created_at"]
    assert isinstance(d["delta"], int)
    assert Entry.from_dict(json.loads(json.dumps(d))) == out[0]


def test_entry_ids_are_deterministic_from_the_cause_not_the_rules():
    events = thread() + [react("a1", "asker", "r1", "accept", "2026-11-02T11:00:00Z"),
                         react("v1", "carol", "r2", "upvote")]
    _, first = run(events)
    _, again = run(events)
    assert [e.entry_id for e in first] == [e.entry_id for e in again]
    # other point values and another version: same causes, same ids
    _, other = run(events, rules(version="other", accept_author=20, upvote_reply=3))
    assert [e.entry_id for e in first] == [e.entry_id for e in other]
    assert first[0].entry_id == entry_id_for("a1", "alice", "accept")
    assert all(e.source_event_id in ("a1", "v1") for e in first)
    # created_at is the event's, not the wall clock
    assert [e.created_at for e in first] == ["2026-11-02T11:00:00Z"] * 2 + [T0]


def test_balances_from_entries_counts_each_entry_id_once():
    st, out = run(thread() + [react("a1", "asker", "r1", "accept")])
    dicts = [e.to_dict() for e in out]
    assert balances_from_entries(dicts + dicts) == {"alice": 15, "asker": 2}
    assert balances_from_entries(out) == st.balances


# ------------------------------------------------------------------------------------- posts


def test_posts_record_facts_and_earn_nothing_by_default():
    st, out = run(thread())
    assert out == [] and st.balances == {}
    assert st.posts["r1"][:2] == ("alice", "q1") and st.posts["q1"][1] is None


def test_post_points_are_configurable_and_granted_once():
    r = rules(post_root=2, post_reply=1)
    st, out = run(thread() + [post("q1", "asker")], r)
    assert summary(out) == [("asker", 2, "post"), ("alice", 1, "reply"), ("bob", 1, "reply")]
    assert st.last_outcome == "noop:duplicate"


# ----------------------------------------------------------------------------------- accepts


def test_accept_rewards_reply_author_and_accepter():
    st, out = run(thread() + [react("a1", "asker", "r1", "accept")])
    assert summary(out) == [("alice", 15, "accept"), ("asker", 2, "accept:accepter")]
    assert st.balances == {"alice": 15, "asker": 2}
    assert st.accepted["q1"]["reply"] == "r1"


def test_accept_by_someone_other_than_the_root_author_is_a_noop():
    st, out = run(thread() + [react("a1", "bob", "r1", "accept")])
    assert out == [] and st.last_outcome == "noop:not_root_author" and "q1" not in st.accepted


def test_accept_on_a_root_post_is_a_noop():
    st, out = run(thread() + [react("a1", "asker", "q1", "accept")])
    assert out == [] and st.last_outcome == "noop:not_a_reply"


def test_repeated_accept_is_a_noop():
    st, out = run(thread() + [react("a1", "asker", "r1", "accept"),
                              react("a2", "asker", "r1", "accept")])
    assert len(out) == 2 and st.last_outcome == "noop:repeat"
    assert st.balances == {"alice": 15, "asker": 2}


def test_accepting_another_reply_moves_the_accept_with_compensation():
    st, out = run(thread() + [react("a1", "asker", "r1", "accept"),
                              react("a2", "asker", "r2", "accept")])
    assert summary(out[2:]) == [
        ("alice", -15, "accept:reversed"),
        ("asker", -2, "accept:accepter:reversed"),
        ("bob", 15, "accept"),
        ("asker", 2, "accept:accepter"),
    ]
    assert all(e.source_event_id == "a2" for e in out[2:])
    assert st.balances == {"alice": 0, "bob": 15, "asker": 2}
    assert st.accepted["q1"]["reply"] == "r2"
    check_journal(st, out)


def test_unaccept_compensates_and_never_deletes():
    st, out = run(thread() + [react("a1", "asker", "r1", "accept"),
                              react("u1", "asker", "r1", "unaccept")])
    assert summary(out) == [("alice", 15, "accept"), ("asker", 2, "accept:accepter"),
                            ("alice", -15, "accept:reversed"),
                            ("asker", -2, "accept:accepter:reversed")]
    assert "q1" not in st.accepted and st.balances == {"alice": 0, "asker": 0}
    # accept again after unaccept: a new cause, new ids
    st, out2 = run([react("a3", "asker", "r1", "accept")], state=st)
    assert summary(out2) == [("alice", 15, "accept"), ("asker", 2, "accept:accepter")]
    check_journal(st, out + out2)


def test_unaccept_of_a_reply_that_is_not_accepted_is_a_noop():
    st, out = run(thread() + [react("u0", "asker", "r1", "unaccept"),
                              react("a1", "asker", "r1", "accept"),
                              react("u1", "asker", "r2", "unaccept"),
                              react("u2", "bob", "r1", "unaccept")])
    assert len(out) == 2 and st.accepted["q1"]["reply"] == "r1"
    assert st.counters["noop:repeat"] == 2 and st.counters["noop:not_root_author"] == 1


def test_accepting_ones_own_reply_earns_nothing_but_moves_the_accept():
    events = thread() + [post("r3", "asker", "q1"), react("a1", "asker", "r1", "accept"),
                         react("a2", "asker", "r3", "accept")]
    st, out = run(events)
    assert summary(out[2:]) == [("alice", -15, "accept:reversed"),
                                ("asker", -2, "accept:accepter:reversed")]
    assert st.accepted["q1"]["reply"] == "r3" and st.balances == {"alice": 0, "asker": 0}
    st, out2 = run([react("u1", "asker", "r3", "unaccept")], state=st)
    assert out2 == [] and "q1" not in st.accepted


def test_accept_on_a_nested_reply_needs_the_thread_roots_author():
    events = thread() + [post("c1", "carol", "r1"), react("a1", "alice", "c1", "accept"),
                         react("a2", "asker", "c1", "accept")]
    st, out = run(events)
    assert st.counters["noop:not_root_author"] == 1
    assert summary(out) == [("carol", 15, "accept"), ("asker", 2, "accept:accepter")]


# ------------------------------------------------------------------------------ routed bonus


def test_routed_helper_gets_a_bonus_when_their_reply_is_accepted():
    st, out = run(thread() + [match("q1", "asker", ["zed", "alice"]),
                              react("a1", "asker", "r1", "accept")])
    assert summary(out) == [("alice", 15, "accept"), ("asker", 2, "accept:accepter"),
                            ("alice", 5, "accept:routed_bonus")]


def test_a_wave_pays_the_bonus_to_the_helpers_it_asked_only():
    wave = dict(match("q1", "asker", ["alice", "bob"]), wave=1, asked=["bob"])
    _, out = run(thread() + [wave, react("a1", "asker", "r1", "accept")])
    assert all("routed_bonus" not in r for _, _, r in summary(out))  # alice ranked, not asked


def test_no_bonus_for_a_helper_who_was_not_routed():
    st, out = run(thread() + [match("q1", "asker", ["alice"]), react("a1", "asker", "r2", "accept")])
    assert summary(out) == [("bob", 15, "accept"), ("asker", 2, "accept:accepter")]


def test_unaccept_and_moving_the_accept_reverse_the_bonus():
    st, out = run(thread() + [match("q1", "asker", ["alice"]), react("a1", "asker", "r1", "accept"),
                              react("a2", "asker", "r2", "accept")])
    assert ("alice", -5, "accept:routed_bonus:reversed") in summary(out)
    assert st.balances["alice"] == 0


def test_a_match_arriving_after_the_accept_grants_the_same_bonus_entry():
    in_order = thread() + [match("q1", "asker", ["alice"]),
                           react("a1", "asker", "r1", "accept", "2026-11-02T12:00:00Z")]
    late = thread() + [react("a1", "asker", "r1", "accept", "2026-11-02T12:00:00Z"),
                       match("q1", "asker", ["alice"])]
    _, a = run(in_order)
    st, b = run(late)
    assert sorted(e.to_dict().items() for e in a) == sorted(e.to_dict().items() for e in b)
    assert st.last_outcome == "recorded:late_bonus"
    st, again = run([match("q1", "asker", ["alice"])], state=st)  # a re-match: no second bonus
    assert again == []


def test_strict_routing_requires_the_match_before_the_reply():
    r = rules(require_match_before_reply=True)
    early = [post("q1", "asker"), match("q1", "asker", ["alice"], "2026-11-02T10:00:05Z"),
             post("r1", "alice", "q1", "2026-11-02T10:05:00Z"), react("a1", "asker", "r1", "accept")]
    _, out = run(early, r)
    assert ("alice", 5, "accept:routed_bonus") in summary(out)
    late = [post("q1", "asker"), post("r1", "alice", "q1", "2026-11-02T10:05:00Z"),
            match("q1", "asker", ["alice"], "2026-11-02T10:06:00Z"),
            react("a1", "asker", "r1", "accept")]
    _, out = run(late, r)
    assert all(reason != "accept:routed_bonus" for _, _, reason in summary(out))


# ------------------------------------------------------------------------------------- votes


def test_upvote_gives_10_on_a_reply_and_5_on_a_root_post():
    st, out = run(thread() + [react("v1", "carol", "r1", "upvote"),
                              react("v2", "carol", "q1", "upvote")])
    assert summary(out) == [("alice", 10, "upvote"), ("asker", 5, "upvote")]


def test_one_vote_per_actor_and_post_repeats_are_noops():
    st, out = run(thread() + [react("v1", "carol", "r1", "upvote"),
                              react("v2", "carol", "r1", "upvote"),
                              react("v3", "carol", "r1", "upvote")])
    assert summary(out) == [("alice", 10, "upvote")] and st.counters["noop:repeat"] == 2


def test_downvote_costs_the_author_2_and_the_voter_1():
    st, out = run(thread() + [react("d1", "carol", "r1", "downvote")])
    assert summary(out) == [("alice", -2, "downvote"), ("carol", -1, "downvote:voter")]


def test_switching_up_to_down_compensates_the_up_first():
    st, out = run(thread() + [react("v1", "carol", "r1", "upvote"),
                              react("v2", "carol", "r1", "downvote")])
    assert summary(out[1:]) == [("alice", -10, "upvote:reversed"),
                                ("alice", -2, "downvote"), ("carol", -1, "downvote:voter")]
    assert st.balances == {"alice": -2, "carol": -1}
    st, out2 = run([react("v3", "carol", "r1", "upvote")], state=st)  # and back again
    assert summary(out2) == [("alice", 2, "downvote:reversed"),
                             ("carol", 1, "downvote:voter:reversed"), ("alice", 10, "upvote")]
    assert st.balances == {"alice": 10, "carol": 0}
    check_journal(st, out + out2)


def test_unvote_compensates_and_unvote_without_a_vote_is_a_noop():
    st, out = run(thread() + [react("x0", "carol", "r1", "unvote"),
                              react("v1", "carol", "r1", "upvote"),
                              react("x1", "carol", "r1", "unvote"),
                              react("x2", "carol", "r1", "unvote")])
    assert summary(out) == [("alice", 10, "upvote"), ("alice", -10, "upvote:reversed")]
    assert st.counters["noop:repeat"] == 2 and st.votes == {}


def test_unvote_of_a_downvote_refunds_both_sides():
    st, out = run(thread() + [react("d1", "carol", "r1", "downvote"),
                              react("x1", "carol", "r1", "unvote")])
    assert st.balances == {"alice": 0, "carol": 0} and len(out) == 4


def test_thanks_gives_5_once_per_actor_and_post():
    st, out = run(thread() + [react("t1", "carol", "r1", "thanks"),
                              react("t2", "carol", "r1", "thanks"),
                              react("t3", "dave", "r1", "thanks")])
    assert summary(out) == [("alice", 5, "thanks"), ("alice", 5, "thanks")]
    assert st.counters["noop:repeat"] == 1


# ------------------------------------------------------------------------------ self-dealing


@pytest.mark.parametrize("kind", ["upvote", "downvote", "unvote", "thanks"])
def test_reacting_to_ones_own_post_earns_nothing(kind):
    st, out = run(thread() + [react("s1", "alice", "r1", kind)])
    assert out == [] and st.last_outcome == "noop:self" and st.balances == {}


def test_a_redelivered_reaction_id_is_a_noop_even_after_a_reversal():
    v1 = react("v1", "carol", "r1", "upvote")
    st, out = run(thread() + [v1, react("x1", "carol", "r1", "unvote"), v1])
    assert st.last_outcome == "noop:duplicate" and st.balances == {"alice": 0}


# --------------------------------------------------------------------------------- daily cap


def voters(n, pid, kind="upvote", t=T0, prefix="v"):
    return [react(f"{prefix}{i}", f"fan{i}", pid, kind, t) for i in range(n)]


def test_vote_points_are_capped_at_200_per_day():
    st, out = run(thread() + voters(22, "r1"))
    granted = [e.delta for e in out if e.user_id == "alice"]
    assert sum(granted) == 200 and granted[:20] == [10] * 20
    assert summary(out[20:]) == [("alice", 0, "upvote:capped")] * 2  # audit trail of the cap


def test_cap_can_cut_a_reward_short_and_includes_thanks():
    events = thread() + voters(19, "r1") + [react("t1", "zoe", "r1", "thanks"),
                                            react("v99", "yan", "r1", "upvote")]
    st, out = run(events)
    assert summary(out[-2:]) == [("alice", 5, "thanks"), ("alice", 5, "upvote:capped")]
    assert st.balances["alice"] == 200


def test_cap_is_per_utc_day_of_the_reaction():
    day1 = voters(21, "r1", t="2026-11-02T23:59:00+00:00")
    # 00:30 at +01:00 is still 2026-11-02 in UTC; the next two are 2026-11-03 UTC
    day2 = [react("w0", "late0", "r1", "upvote", "2026-11-03T00:30:00+01:00"),
            react("w1", "late1", "r1", "upvote", "2026-11-03T00:00:00Z"),
            react("w2", "late2", "r1", "upvote", "2026-11-02T20:00:00-05:00")]
    st, out = run(thread() + day1 + day2)
    assert [e.delta for e in out[-3:]] == [0, 10, 10]


def test_cap_is_per_recipient():
    st, out = run(thread() + voters(21, "r1") + voters(2, "r2", prefix="b"))
    assert st.balances == {"alice": 200, "bob": 20}


def test_accepts_and_downvotes_ignore_the_cap():
    events = thread() + voters(20, "r1") + [match("q1", "asker", ["alice"]),
                                            react("a1", "asker", "r1", "accept")]
    st, out = run(events)
    assert st.balances["alice"] == 200 + 15 + 5


def test_reversing_a_capped_vote_compensates_only_what_was_granted():
    st, out = run(thread() + voters(19, "r1") + [react("t1", "zoe", "r1", "thanks"),
                                                 react("v99", "yan", "r1", "upvote"),
                                                 react("v100", "xan", "r1", "upvote"),
                                                 react("x99", "yan", "r1", "unvote"),
                                                 react("x100", "xan", "r1", "unvote")])
    assert summary(out[-3:]) == [
        ("alice", 5, "upvote:capped"),            # yan: cut from 10 to the 5 left
        ("alice", 0, "upvote:capped"),            # xan: nothing left
        ("alice", -5, "upvote:capped:reversed"),  # yan unvotes: exactly what was granted
    ]                                             # xan unvotes: nothing to compensate
    assert st.balances["alice"] == 195  # nothing to compensate for the vote that earned 0
    assert st.cap_used[day_key("2026-11-02", "alice")] == 195


def test_reversal_gives_the_headroom_back():
    st, out = run(thread() + voters(20, "r1") + [react("x0", "fan0", "r1", "unvote"),
                                                 react("n1", "new1", "r1", "upvote"),
                                                 react("n2", "new2", "r1", "upvote")])
    assert summary(out[-2:]) == [("alice", 10, "upvote"), ("alice", 0, "upvote:capped")]
    assert st.balances["alice"] == 200


def test_zero_entries_can_be_switched_off():
    st, out = run(thread() + voters(21, "r1"), rules(zero_entries=False))
    assert len(out) == 20


def test_old_cap_days_are_pruned_from_the_state():
    events = thread()
    for d in range(1, 9):
        events.append(react(f"v{d}", f"fan{d}", "r1", "upvote", f"2026-11-{d:02d}T10:00:00Z"))
    st, _ = run(events)
    assert sorted({key.split("\x1f")[0] for key in st.cap_used}) == ["2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08"]


# ------------------------------------------------------------------------------------- rings


def pair_ring(n, a="ann", b="ben", kind="upvote", start=0):
    """a and b each write n replies and reward each other's, alternating."""
    ev = [post("q", "host")]
    for i in range(start, start + n):
        ev += [post(f"{a}{i}", a, "q"), post(f"{b}{i}", b, "q"),
               react(f"{a}->{b}{i}", a, f"{b}{i}", kind), react(f"{b}->{a}{i}", b, f"{a}{i}", kind)]
    return ev


def test_a_mutual_upvote_pair_is_flagged_and_dampened():
    st, out = run(pair_ring(6))
    assert len(st.flagged_rings) == 1
    ring = st.flagged_rings[0]
    assert ring["members"] == ["ann", "ben"] and ring["source_event_id"] == "ben->ann4"
    assert ["ben", "ann", 5] in ring["counts"] and ["ann", "ben", 5] in ring["counts"]
    # the completing reaction and everything after it between them is halved
    by_id = {e.source_event_id: e for e in out}
    assert (by_id["ann->ben4"].delta, by_id["ann->ben4"].reason) == (10, "upvote")
    assert (by_id["ben->ann4"].delta, by_id["ben->ann4"].reason) == (5, "upvote:dampened")
    assert (by_id["ann->ben5"].delta, by_id["ann->ben5"].reason) == (5, "upvote:dampened")
    assert st.balances == {"ann": 4 * 10 + 2 * 5, "ben": 5 * 10 + 5}
    assert st.counters["ring_flagged"] == 1


def test_ring_damping_zero_stops_rewards_and_leaves_an_audit_entry():
    st, out = run(pair_ring(6), rules(ring_damping_percent=0))
    by_id = {e.source_event_id: e for e in out}
    assert (by_id["ann->ben5"].delta, by_id["ann->ben5"].reason) == (0, "upvote:dampened")
    assert st.balances == {"ann": 40, "ben": 50}


def test_dampening_applies_to_thanks_and_accepts_between_ring_members():
    ev = pair_ring(5) + [post("qa", "ann"), post("rb", "ben", "qa"),
                         react("acc", "ann", "rb", "accept"), react("th", "ann", "rb", "thanks")]
    st, out = run(ev)
    assert summary(out[-3:]) == [("ben", 7, "accept:dampened"), ("ann", 1, "accept:accepter:dampened"),
                                 ("ben", 2, "thanks:dampened")]
    # and their reversal compensates exactly the dampened amounts
    st, rev = run([react("un", "ann", "rb", "unaccept")], state=st)
    assert summary(rev) == [("ben", -7, "accept:dampened:reversed"),
                            ("ann", -1, "accept:accepter:dampened:reversed")]


def test_rewards_from_and_to_outsiders_are_not_dampened():
    st, _ = run(pair_ring(6))
    st, out = run([react("c1", "carl", "ann3", "upvote"), react("c2", "ann", "q", "upvote")], state=st)
    assert summary(out) == [("ann", 10, "upvote"), ("host", 5, "upvote")]


def test_downvotes_inside_a_ring_are_not_dampened():
    st, _ = run(pair_ring(6))
    st, out = run([react("d", "ann", "ben0", "downvote")], state=st)
    assert summary(out) == [("ben", -10, "upvote:reversed"), ("ben", -2, "downvote"),
                            ("ann", -1, "downvote:voter")]


def test_one_sided_fandom_is_not_a_ring():
    ev = [post("q", "host")]
    for i in range(10):
        ev += [post(f"b{i}", "ben", "q"), react(f"f{i}", "fan", f"b{i}", "upvote")]
    st, out = run(ev)
    assert st.flagged_rings == [] and st.balances["ben"] == 100


def test_reciprocity_at_a_normal_rate_is_not_a_ring():
    """ann and ben reward each other 7 times, but also 30 other people 2 times each."""
    ev = [post("q", "host")]
    for j in range(30):
        ev += [post(f"o{j}a", f"other{j}", "q"), post(f"o{j}b", f"other{j}", "q")]
        for who in ("ann", "ben"):
            ev += [react(f"{who}o{j}a", who, f"o{j}a", "upvote"),
                   react(f"{who}o{j}b", who, f"o{j}b", "upvote")]
    ev += pair_ring(7)[1:]
    st, out = run(ev)
    assert st.flagged_rings == [] and st.pair_counts["ann"]["ben"] == 7
    assert not any(e.reason.endswith("dampened") for e in out)
    # the same pair without the outside activity is a ring
    st, _ = run(pair_ring(7))
    assert len(st.flagged_rings) == 1


def test_reversed_votes_do_not_count_toward_a_ring():
    ev = pair_ring(4)
    for i in range(4):  # ann withdraws her votes
        ev.append(react(f"un{i}", "ann", f"ben{i}", "unvote"))
    ev += pair_ring(2, start=4)
    st, _ = run(ev)
    assert st.flagged_rings == [] and st.pair_counts["ann"]["ben"] == 2


def test_a_three_user_circle_is_flagged():
    ev = [post("q", "host")]
    users = ["amy", "bea", "cal"]
    for i in range(5):
        for u in users:
            ev.append(post(f"{u}{i}", u, "q"))
        for giver, receiver in zip(users, users[1:] + users[:1]):
            ev.append(react(f"{giver}->{receiver}{i}", giver, f"{receiver}{i}", "upvote"))
    st, out = run(ev)
    assert [r["members"] for r in st.flagged_rings] == [users]
    assert out[-1].reason == "upvote:dampened"
    assert st.damped["cal"] == {"amy", "bea"}
    # with max_size 2 only pairs count: no ring
    st2, _ = run(ev, rules(ring_max_size=2))
    assert st2.flagged_rings == []


def test_ring_thresholds_come_from_the_rule_table():
    st, _ = run(pair_ring(6), rules(ring_min_pair_count=7))
    assert st.flagged_rings == []
    st, _ = run(pair_ring(3), rules(ring_min_pair_count=3))
    assert len(st.flagged_rings) == 1
    st, _ = run(pair_ring(6), rules(ring_positive_kinds=frozenset({"thanks"})))
    assert st.flagged_rings == []
    st, _ = run(pair_ring(6, kind="thanks"), rules(ring_positive_kinds=frozenset({"thanks"})))
    assert len(st.flagged_rings) == 1


def test_last_flagged_reports_the_new_ring_once():
    st = LedgerState()
    flagged = []
    for ev in pair_ring(8):
        apply_event(st, ev, RULES)
        flagged += st.last_flagged
    assert len(flagged) == 1 and flagged[0]["members"] == ["ann", "ben"]


# ------------------------------------------------------------------------------ unknown posts


def test_a_reaction_on_an_unknown_post_is_parked_then_applied_when_the_post_arrives():
    early = react("v1", "carol", "r1", "upvote", "2026-11-02T10:01:00Z")
    st, out = run([post("q1", "asker"), early])
    assert out == [] and st.last_outcome == "parked" and st.pending_count == 1
    st, out = run([post("r1", "alice", "q1")], state=st)
    assert summary(out) == [("alice", 10, "upvote")]
    assert out[0].source_event_id == "v1" and out[0].created_at == "2026-11-02T10:01:00Z"
    assert st.pending_count == 0 and st.counters["unparked:applied"] == 1
    _, in_order = run([post("q1", "asker"), post("r1", "alice", "q1"), early])
    assert [e.to_dict() for e in in_order] == [e.to_dict() for e in out]


def test_an_accept_waits_for_the_root_post_as_well():
    st, out = run([post("r1", "alice", "q1"), react("a1", "asker", "r1", "accept")])
    assert out == [] and "q1" in st.pending
    st, out = run([post("q1", "asker")], state=st)
    assert summary(out) == [("alice", 15, "accept"), ("asker", 2, "accept:accepter")]


def test_a_parked_reaction_redelivered_is_a_noop():
    v = react("v1", "carol", "r1", "upvote")
    st, _ = run([v, v])
    assert st.pending_count == 1 and st.last_outcome == "noop:duplicate"


def test_unknown_post_raises_when_the_parking_space_is_full():
    r = rules(max_pending=1)
    st, _ = run([react("v1", "carol", "r1", "upvote")], r)
    before = json.dumps(st.to_dict(), sort_keys=True)
    with pytest.raises(UnknownPost) as exc:
        apply_event(st, react("v2", "dave", "r9", "upvote"), r)
    assert exc.value.post_id == "r9" and exc.value.event["reaction_id"] == "v2"
    assert json.dumps(st.to_dict(), sort_keys=True) == before  # not marked seen: retryable


def test_reactions_parked_too_long_can_be_expired_for_the_dlq_and_redriven():
    old = react("v1", "carol", "gone", "upvote", "2026-11-01T09:00:00Z")
    new = react("v2", "dave", "gone", "upvote", "2026-11-02T09:00:00Z")
    st, _ = run([old, new])
    assert expire_pending(st, "2026-11-02T00:00:00Z") == [old]
    assert st.pending_count == 1 and st.counters["expired"] == 1
    restored = LedgerState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert restored.pending_count == 1
    st, out = run([post("gone", "alice"), old], state=st)  # re-driven after the post came
    assert summary(out) == [("alice", 5, "upvote"), ("alice", 5, "upvote")]


# ------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("event,field", [
    ({"type": "nope"}, "type"),
    ({"post_id": "p"}, "type"),
    ({**react("v", "a", "p", "upvote"), "kind": "like"}, "kind"),
    ({**react("v", "a", "p", "upvote"), "actor_id": ""}, "actor_id"),
    ({**react("v", "a", "p", "upvote"), "created_at": "yesterday"}, "created_at"),
    ({**react("v", "a", "p", "upvote"), "reaction_id": None}, "reaction_id"),
    ({**post("p", "a"), "reply_to": 7}, "reply_to"),
    ({**post("p", "a"), "author_id": None}, "author_id"),
    ({**match("p", "a", ["h"]), "candidates": [{"score": 1}]}, "candidates[0].helper_id"),
    ({**match("p", "a", ["h"]), "candidates": None}, "candidates"),
])
def test_malformed_events_raise_invalid_event_and_leave_the_state_alone(event, field):
    st, _ = run(thread())
    before = json.dumps(st.to_dict(), sort_keys=True)
    with pytest.raises(InvalidEvent) as exc:
        apply_event(st, event, RULES)
    assert exc.value.field == field
    assert json.dumps(st.to_dict(), sort_keys=True) == before


# ----------------------------------------------------------------- snapshots, replay, invariants


def random_stream(seed, n=3000):
    rnd = random.Random(seed)
    users = [f"u{i}" for i in range(12)]
    posts, roots, events = [], [], []
    author: dict[str, str] = {}
    parent: dict[str, str] = {}
    for i in range(n):
        t = f"2026-11-{1 + i * 6 // n:02d}T{(i * 7) % 24:02d}:{i % 60:02d}:00Z"
        x = rnd.random()
        if x < 0.2 or not roots:
            pid = f"p{i}"
            reply_to = rnd.choice(roots) if roots and rnd.random() < 0.7 else None
            author[pid] = rnd.choice(users)
            if reply_to is not None:
                parent[pid] = reply_to
            events.append(post(pid, author[pid], reply_to, t))
            posts.append(pid)
            (roots if reply_to is None else []).append(pid)
            if reply_to is None and rnd.random() < 0.5:
                events.append(match(pid, "?", rnd.sample(users, 3), t))
        else:
            kind = rnd.choice(["accept", "unaccept", "upvote", "upvote", "upvote", "downvote",
                               "unvote", "thanks"])
            target = rnd.choice(posts + [f"p{i + 5}"])  # sometimes a post not seen yet
            actor = rnd.choice(users)
            if kind in ("accept", "unaccept") and target in parent and rnd.random() < 0.7:
                actor = author[parent[target]]  # mostly the asker, so accepts move around
            events.append(react(f"r{i}", actor, target, kind, t))
        if rnd.random() < 0.05:
            events.append(rnd.choice(events))  # redelivery
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_snapshot_and_replay_are_deterministic(seed):
    events = random_stream(seed)
    r = rules(ring_min_pair_count=3, ring_rate_ratio=2, daily_vote_cap=60)
    full, entries = run(events, r)
    check_journal(full, entries)
    cut = len(events) // 3
    part, first = run(events[:cut], r)
    restored = LedgerState.from_dict(json.loads(json.dumps(part.to_dict())))
    restored, rest = run(events[cut:], r, restored)
    assert [e.to_dict() for e in first + rest] == [e.to_dict() for e in entries]
    assert json.dumps(restored.to_dict(), sort_keys=True) == json.dumps(full.to_dict(), sort_keys=True)
    # replay() is the same thing
    st, again = replay(events, r)
    assert [e.entry_id for e in again] == [e.entry_id for e in entries]
    # the stream exercises caps, rings, moved accepts and parking
    assert any(e.reason.endswith(":capped") for e in entries)
    assert any(":dampened" in e.reason for e in entries) and full.flagged_rings
    assert any(e.reason == "accept:reversed" for e in entries)
    assert full.counters["parked"] and full.counters["noop:duplicate"]


def test_net_vote_points_per_day_never_exceed_the_cap_at_any_moment():
    r = rules(daily_vote_cap=60)
    st = LedgerState()
    for ev in random_stream(7):
        apply_event(st, ev, r)
        assert all(v <= 60 for v in st.cap_used.values())


@pytest.mark.parametrize("seed", [4, 5])
def test_withdrawing_every_vote_and_accept_returns_every_balance_to_zero(seed):
    """Compensation is exact even with caps and ring damping in play (no thanks: not reversible)."""
    events = [e for e in random_stream(seed) if e.get("kind") != "thanks"]
    r = rules(ring_min_pair_count=3, ring_rate_ratio=2, daily_vote_cap=40)
    st, entries = run(events, r)
    undo = []
    for key in sorted(st.votes):
        pid, actor = key.split("\x1f")
        undo.append(react(f"undo-v-{pid}-{actor}", actor, pid, "unvote", "2026-12-01T00:00:00Z"))
    for root, acc in sorted(st.accepted.items()):
        undo.append(react(f"undo-a-{root}", acc["accepter"], acc["reply"], "unaccept",
                          "2026-12-01T00:00:00Z"))
    st, more = run(undo, r, st)
    assert st.votes == {} and st.accepted == {}
    assert {u: b for u, b in st.balances.items() if b} == {}
    check_journal(st, entries + more)
    assert any(e.reason.endswith(":capped") for e in entries)
    assert any(":dampened" in e.reason for e in entries)
    assert any(":dampened" in e.reason and e.reason.endswith(":reversed") for e in more)


def test_default_rules_file_is_beside_the_module():
    assert RULES_PATH == Path(__file__).resolve().parents[2] / "services" / "ledger" / "rules.toml"


def test_a_flag_earns_and_costs_nothing():
    st, out = run(thread() + [react("f1", "carol", "r1", "flag"), react("f2", "carol", "q1", "flag")])
    assert out == [] and st.last_outcome == "noop:flag"


def adjustment(aid, user, delta, t=T0):
    return {"type": "adjustment", "adjustment_id": aid, "user_id": user, "delta": delta, "reason": "r",
            "created_at": t}


def test_an_adjustment_is_one_entry_once_either_way():
    st, out = run([adjustment("a1", "alice", 30), adjustment("a1", "alice", 30), adjustment("a2", "alice", -50)])
    assert summary(out) == [("alice", 30, "adjustment"), ("alice", -50, "adjustment")]
    assert st.balances["alice"] == -20 and st.last_outcome == "applied:adjustment"
    check_journal(st, out)
    # an adjustment id is its own namespace: a reaction with the same id still counts
    st, out = run(thread() + [react("a1", "carol", "r1", "upvote")], state=st)
    assert ("alice", 10, "upvote") in summary(out)


@pytest.mark.parametrize("bad", [{"delta": 0}, {"delta": 2.5}, {"delta": True}, {"user_id": ""}, {"adjustment_id": None}])
def test_a_malformed_adjustment_is_refused_with_its_field(bad):
    with pytest.raises(InvalidEvent):
        apply_event(LedgerState(), {**adjustment("a1", "alice", 5), **bad}, RULES)


def test_serial_upvotes_past_the_limit_within_a_day_are_reversed():
    r = rules(serial_votes=3)
    posts = [post("q0", "asker")] + [post(f"r{i}", "alice", "q0") for i in range(6)]
    votes = [react(f"v{i}", "mallory", f"r{i}", "upvote", f"2026-11-02T10:0{i}:00Z") for i in range(5)]
    st, out = run(posts + votes, r)
    reversals = [e for e in out if e.reason == "serial_vote_reversal"]
    assert [(e.user_id, e.delta, e.source_event_id) for e in reversals] == [("alice", -10, "v3"), ("alice", -10, "v4")]
    assert st.balances["alice"] == 30  # three votes stand
    check_journal(st, out)
    # unvoting a reversed vote takes nothing more; a vote a day later counts afresh
    st, out = run([react("u4", "mallory", "r4", "unvote"), react("v5", "mallory", "r5", "upvote", "2026-11-03T10:30:00Z")],
                  r, state=st)
    assert summary(out) == [("alice", 10, "upvote")] and st.balances["alice"] == 40
    # another voter, or another recipient, is counted apart
    st, out = run([react("w1", "bob", "r0", "upvote"), react("w2", "mallory", "q0", "upvote")], r, state=st)
    assert all(e.reason != "serial_vote_reversal" for e in out)


def test_the_serial_vote_limit_is_a_setting(monkeypatch):
    from services.ledger.rules import load_rules
    monkeypatch.setenv("GOALPOST_SERIAL_VOTES", "4")
    assert load_rules().serial_votes == 4
    monkeypatch.setenv("GOALPOST_SERIAL_VOTES", "0")
    with pytest.raises(ValueError):
        load_rules()


def test_an_upvote_of_an_asked_helpers_answer_earns_the_routed_bonus_while_it_stands():
    st, out = run(thread() + [match("q1", "asker", ["alice"]), react("v1", "carol", "r1", "upvote"),
                              react("v2", "dave", "r1", "upvote"), react("v3", "erin", "r2", "upvote")])
    journal = list(out)
    assert [e for e in summary(out) if "routed_bonus" in e[2]] == [("alice", 5, "upvote:routed_bonus")]
    st, out = run([react("v4", "carol", "r1", "unvote")], state=st)
    journal += out
    assert all("routed_bonus" not in r for _, _, r in summary(out))  # dave's upvote still stands
    st, out = run([react("v5", "dave", "r1", "unvote")], state=st)
    journal += out
    assert ("alice", -5, "upvote:routed_bonus:reversed") in summary(out)
    # an accept pays its own bonus; the upvote's then stops, so the answer earns one bonus
    st, out = run([react("v6", "frank", "r1", "upvote"), react("a1", "asker", "r1", "accept")], state=st)
    assert sum(d for _, d, r in summary(out) if "routed_bonus" in r) == 5
    check_journal(st, journal + out)


def test_the_routed_bonus_does_not_depend_on_when_the_match_arrives():
    # Reactions on one reply keep their order (one partition); the match may come at any point.
    reactions = [react("v1", "carol", "r1", "upvote"), react("a1", "asker", "r1", "accept"),
                 react("v2", "dave", "r1", "upvote"), react("u1", "asker", "r1", "unaccept"),
                 react("v3", "carol", "r1", "unvote"), react("a2", "asker", "r2", "accept"),
                 react("v4", "erin", "r2", "upvote"), react("u2", "asker", "r2", "unaccept")]
    balances = set()
    for at in range(len(reactions) + 1):
        events = thread() + reactions[:at] + [match("q1", "asker", ["alice", "bob"])] + reactions[at:]
        st, out = run(events)
        check_journal(st, out)
        balances.add(tuple(sorted(st.balances.items())))
    assert len(balances) == 1


def test_a_vote_on_a_reply_whose_root_is_not_seen_yet_waits_for_it():
    # posts are keyed by author: a reply and its votes can arrive before the root post
    early = [post("r1", "alice", "q1"), react("v1", "carol", "r1", "upvote"), match("q1", "asker", ["alice"]),
             post("q1", "asker")]
    in_order = [post("q1", "asker"), post("r1", "alice", "q1"), match("q1", "asker", ["alice"]),
                react("v1", "carol", "r1", "upvote")]
    (a, _), (b, _) = run(early), run(in_order)
    assert a.balances == b.balances and a.balances["alice"] == RULES.upvote_reply + RULES.routed_helper_bonus
