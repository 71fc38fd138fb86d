"""The ledger worker's batch step (services/ledger/batch.py) and checkpoints
(services/ledger/recovery.py), without Kafka or Redis: what one transaction would commit for a
batch of input records, and when a checkpoint reaches the disk."""
import asyncio
import dataclasses
from collections import namedtuple

import orjson
from aiokafka import TopicPartition

from services.core.contracts import Balance, LedgerEntry
from services.ledger import views as ledger_views
from services.ledger.app import build
from services.ledger.batch import TRIM_EVERY_S, BatchStep, decode_batch, fetched_offsets, next_offsets
from services.ledger.recovery import Checkpoints
from services.ledger.rule_table import load_rules
from services.ledger.state import LedgerState
from services.ledger.store import StateStore
from services.ledger.topics import BALANCES, JOURNAL
from services.ledger.views import view_calls, views_from_entries

Msg = namedtuple("Msg", "topic partition offset timestamp value")
RULES = load_rules()


def post(offset, pid, author):
    return Msg("posts.classified.v1", 0, offset, offset, orjson.dumps(
        {"post_id": pid, "author_id": author, "text": "x", "created_at": "2026-11-26T10:00:00.000Z",
         "reply_to": None, "tags": [], "source": "t", "intent": "request", "confidence": 1.0,
         "scores": {}, "topics": [], "model_version": "t"}))


def reaction(offset, rid, actor, pid, kind, partition=1):
    return Msg("reactions.v1", partition, offset, offset, orjson.dumps(
        {"reaction_id": rid, "actor_id": actor, "post_id": pid, "kind": kind,
         "created_at": "2026-11-26T10:01:00.000Z"}))


def upvote(offset, rid, actor, pid, partition=1):
    return reaction(offset, rid, actor, pid, "upvote", partition)


def downvote(offset, rid, actor, pid):
    return reaction(offset, rid, actor, pid, "downvote")


def erasure(offset, user):
    return Msg("erasures.v1", 0, offset, offset, orjson.dumps(
        {"erasure_id": f"e-{user}", "user_id": user, "requested_at": "2026-11-26T11:00:00.000Z"}))


def prepare(step, msgs):
    return asyncio.run(step.prepare(msgs))


def test_posts_are_applied_before_the_reactions_of_their_batch():
    events, rejected = decode_batch([upvote(5, "r1", "bob", "p1"), post(9, "p1", "ann")])
    assert [ev["type"] for _, ev in events] == ["post", "reaction"] and rejected == []
    step = BatchStep()
    batch = asyncio.run(step.apply(events, rejected, next_offsets([m for m, _ in events])))
    assert step.state.pending_count == 0 and [e.user_id for e, _ in batch.encoded] == ["ann"]


def test_a_batch_gives_entries_balances_and_the_next_offsets():
    batch = prepare(BatchStep(), [post(0, "p1", "ann"), upvote(3, "r1", "bob", "p1"), upvote(4, "r2", "cy", "p1")])
    assert [e.user_id for e, _ in batch.encoded] == ["ann", "ann"]
    assert {(tp.topic, tp.partition): o for tp, o in batch.offsets.items()} == \
        {("posts.classified.v1", 0): 1, ("reactions.v1", 1): 5}
    assert batch.views["balances"] == {"ann": sum(e.delta for e, _ in batch.encoded)}
    assert batch.views["balances"]["ann"] > 0
    assert batch.dead == [] and batch.inputs == 3


def test_a_decoded_batch_gives_the_records_of_its_transaction_in_order():
    """Entries (keyed by user, with the JSON written to the journal), then one balance per user
    changed (its latest value and entry), then the dead letters."""
    msgs = [post(0, "p1", "ann"), post(1, "p2", "bob"), upvote(2, "r1", "bob", "p1"),
            upvote(3, "r2", "ann", "p2"), downvote(4, "r3", "cy", "p1"), reaction(5, "r4", "cy", "p1", "shrug")]
    events, rejected = decode_batch(msgs)
    batch = asyncio.run(BatchStep().apply(events, rejected, next_offsets(msgs)))
    entries = [e for e, _ in batch.encoded]
    topics = [topic for topic, _, _ in batch.out]
    assert topics == [JOURNAL] * len(entries) + [BALANCES] * 3 + ["dlq.v1"]
    assert [(key, value) for _, key, value in batch.out[:len(entries)]] == \
        [(e.user_id.encode(), e.to_json()) for e in entries]
    balances = {b["user_id"]: b for b in (orjson.loads(v) for t, _, v in batch.out if t == BALANCES)}
    for user, record in balances.items():
        mine = [e for e in entries if e.user_id == user]
        assert record["balance"] == sum(e.delta for e in mine) == batch.views["balances"][user]
        assert record["last_entry_id"] == mine[-1].entry_id
    assert balances["ann"]["balance"] == RULES.upvote_root + RULES.downvote_author
    assert balances["cy"]["balance"] == RULES.downvote_voter < 0  # the voter pays for a downvote
    dead = orjson.loads(batch.out[-1][2])
    assert dead["offset"] == 5 and "kind" in dead["error"]  # a rule's refusal, not a decoding error
    assert batch.offsets == {TopicPartition("posts.classified.v1", 0): 2, TopicPartition("reactions.v1", 1): 6}


def test_a_batch_counts_its_entries_by_reason_and_the_points_minted_and_burned():
    batch = prepare(BatchStep(), [post(0, "p1", "ann"), upvote(1, "r1", "bob", "p1"),
                                  downvote(2, "r2", "cy", "p1"), upvote(3, "r3", "dee", "p1")])
    entries = [e for e, _ in batch.encoded]
    assert batch.reasons == {r: sum(e.reason == r for e in entries) for r in {e.reason for e in entries}}
    assert batch.reasons["upvote"] == 2 and batch.reasons["downvote"] == 1
    assert batch.minted == sum(e.delta for e in entries if e.delta > 0) > 0
    assert batch.burned == -sum(e.delta for e in entries if e.delta < 0) > 0


def test_the_offsets_of_a_fetch_are_those_of_its_messages():
    fetched = {TopicPartition("reactions.v1", 1): [upvote(4, "r1", "b", "p"), upvote(9, "r2", "c", "p")],
               TopicPartition("reactions.v1", 2): [upvote(3, "r3", "d", "p", partition=2)],
               TopicPartition("reactions.v1", 0): []}
    msgs = [m for records in fetched.values() for m in records]
    assert fetched_offsets(fetched) == next_offsets(msgs) == \
        {TopicPartition("reactions.v1", 1): 10, TopicPartition("reactions.v1", 2): 4}


def test_a_batch_carries_its_own_views_however_late_they_are_written():
    """The Redis write of batch N runs while N+1 is computed: it must write N's values, not
    values that include N+1 (not committed yet)."""
    step = BatchStep()
    first = prepare(step, [post(0, "p1", "ann"), upvote(1, "r1", "bob", "p1")])
    many = [upvote(2 + i, f"r{2 + i}", f"voter{i}", "p1") for i in range(120)]  # more than YIELD_EVERY
    second = prepare(step, many)
    after_first = sum(e.delta for e, _ in first.encoded)
    assert first.views["balances"] == {"ann": after_first}
    assert second.views["balances"] == {"ann": after_first + sum(e.delta for e, _ in second.encoded)}
    assert len(second.encoded) == 120 and len(second.views["recent"][0][1]) == 2 * 120  # (score, entry) pairs


def test_recent_entry_sets_are_trimmed_every_few_seconds_not_on_every_write():
    step = BatchStep()
    first = prepare(step, [post(0, "p1", "ann"), upvote(1, "r1", "bob", "p1")])
    assert first.views["trim"] == ["{ledger}:entries:ann"]  # never trimmed yet
    second = prepare(step, [post(2, "p2", "bob"), upvote(3, "r2", "ann", "p2")])
    assert second.views["trim"] == [] and step.untrimmed == {"bob"}
    step.last_trim -= TRIM_EVERY_S + 1
    third = prepare(step, [upvote(4, "r3", "cy", "p2")])
    assert sorted(third.views["trim"]) == ["{ledger}:entries:bob"] and step.untrimmed == set()


def test_an_erased_user_leaves_the_views_and_gets_a_tombstone():
    step = BatchStep()
    batch = prepare(step, [post(0, "p1", "ann"), upvote(1, "r1", "bob", "p1"), erasure(2, "ann")])
    assert batch.erased == ["ann"] and (BALANCES, b"ann", None) in batch.out
    assert not any(t == BALANCES and v is not None for t, _, v in batch.out)
    assert "ann" not in batch.views["balances"] and batch.views["recent"] == []
    assert "ann" not in step.views.balances()
    later = prepare(step, [upvote(3, "r2", "cy", "p1")])
    assert later.encoded == [] and later.views["balances"] == {}  # nothing more is written for ann


def test_a_reward_ring_flagged_in_a_batch_is_handed_back_with_it():
    rules = dataclasses.replace(load_rules(), ring_min_pair_count=1, ring_rate_ratio=1)
    batch = prepare(BatchStep(rules), [post(0, "p1", "ann"), post(1, "p2", "bob"),
                                       upvote(2, "r1", "bob", "p1"), upvote(3, "r2", "ann", "p2")])
    assert [ring["members"] for ring in batch.flagged] == [["ann", "bob"]]
    assert any(e.reason.endswith(":dampened") for e, _ in batch.encoded)
    assert prepare(BatchStep(), [post(0, "p1", "ann"), upvote(2, "r1", "bob", "p1")]).flagged == []


def test_records_that_are_not_events_are_dead_lettered_and_the_rest_go_on():
    null_value = Msg("reactions.v1", 1, 7, 7, None)
    garbage = Msg("reactions.v1", 1, 8, 8, b"[1, 2]")
    batch = prepare(BatchStep(), [post(0, "p1", "ann"), null_value, garbage, upvote(9, "r1", "bob", "p1")])
    assert sorted(d.offset for d in batch.dead) == [7, 8]
    assert all(d.topic_name == "reactions.v1" and d.error for d in batch.dead)
    assert [e.user_id for e, _ in batch.encoded] == ["ann"]
    assert next_offsets([null_value, garbage]) == {TopicPartition("reactions.v1", 1): 9}


def test_inputs_reapplied_in_recovery_leave_the_state_a_live_run_had():
    """Recovery re-applies the inputs after the checkpoint without writing their entries: the
    next live batch then writes the same entries, with the same ids, as without the crash."""
    first = [post(0, "p1", "ann"), post(1, "p2", "bob"), upvote(2, "r1", "bob", "p1"), upvote(3, "r2", "cy", "p1")]
    second = [upvote(4, "r1", "bob", "p1"), downvote(5, "r3", "bob", "p1"), upvote(6, "r4", "ann", "p2")]
    live = BatchStep()
    prepare(live, first)
    expected = prepare(live, second)
    recovered = BatchStep()
    recovered.reapply(first)
    assert recovered.applied == {TopicPartition("posts.classified.v1", 0): 2, TopicPartition("reactions.v1", 1): 4}
    again = prepare(recovered, second)
    assert [e for e, _ in again.encoded] == [e for e, _ in expected.encoded]
    assert any(e.reason == "upvote:reversed" for e, _ in again.encoded)  # the switch to a downvote
    assert recovered.state.to_dict() == live.state.to_dict()


def _step_with_store(directory):
    store = StateStore(directory / "rules.sqlite", 1000)
    step = BatchStep()
    step.reset(LedgerState(store))
    checkpoints = Checkpoints(store, step, watermarks=object(), views_written=None)  # not asked: not due
    checkpoints.last_views = float("inf")
    return step, checkpoints


def test_a_checkpoint_taken_during_a_transaction_is_written_only_once_it_commits(tmp_path):
    """The batch in flight is in the checkpoint's values and offsets, so the checkpoint must not
    reach the disk before that batch is committed in Kafka, and never if its commit fails."""
    async def go(commit_fails):
        step, checkpoints = _step_with_store(tmp_path / str(commit_fails))
        await step.prepare([post(0, "p1", "ann"), upvote(1, "r1", "bob", "p1")])
        commit = asyncio.get_running_loop().create_future()
        assert checkpoints.due()  # dirty values and no checkpoint yet
        await checkpoints.take(commit)
        assert not checkpoints.due()  # one at a time: this one is not written yet
        for _ in range(20):  # the writer thread would have long finished by now
            await asyncio.sleep(0.01)
        before = checkpoints.store.meta()
        assert not checkpoints.finished()
        if commit_fails:
            commit.set_exception(RuntimeError("transaction aborted"))
        else:
            commit.set_result(None)
        try:
            await checkpoints.written()
            failed = None
        except RuntimeError as exc:
            failed = exc
        after = checkpoints.store.meta()
        checkpoints.store.close()
        return before, after, failed

    before, after, failed = asyncio.run(go(commit_fails=False))
    assert before == {} and failed is None
    assert after["inputs"] and after["state"] and after["views"]  # with the offsets after the batch
    assert "journal" not in after  # (not due: Redis is not known to hold the views)
    before, after, failed = asyncio.run(go(commit_fails=True))
    assert before == {} and after == {} and isinstance(failed, RuntimeError)


def test_a_rebuild_writes_every_view_in_calls_of_at_most_view_chunk_members(monkeypatch):
    step = BatchStep()
    batch = prepare(step, [post(0, "p1", "ann"), post(1, "p2", "bob"), post(2, "p3", "cy"),
                           upvote(3, "r1", "dee", "p1"), upvote(4, "r2", "dee", "p2"), upvote(5, "r3", "dee", "p3")])
    views = views_from_entries(e for e, _ in batch.encoded)
    monkeypatch.setattr(ledger_views, "VIEW_CHUNK", 2)
    calls = list(view_calls(views))
    balances, boards = {}, {}
    for call in calls:
        size = len(call["balances"]) + sum(len(members) for _, members in call["leaderboards"])
        assert 0 < size <= 2 and call["recent"] == [] and call["trim"] == []
        balances.update(call["balances"])
        for key, members in call["leaderboards"]:
            boards.setdefault(key, {}).update(members)
    assert balances == step.views.balances() and set(balances) == {"ann", "bob", "cy"}
    expected = {f"{{ledger}}:lb:{name}:{key}": bucket for name in ("day", "week")
                for key, bucket in views.windows[name].items()}
    assert boards == expected and len(expected) == 2  # the day and its week
    assert len(calls) == 6  # three users in calls of two: the balances, the day, the week


def test_recent_entries_are_written_in_calls_of_about_view_chunk_members(monkeypatch):
    monkeypatch.setattr(ledger_views, "VIEW_CHUNK", 3)
    recent = {"ann": [1.0, "a1", 2.0, "a2"], "bob": [1.0, "b1", 2.0, "b2"], "cy": [3.0, "c1"]}
    calls = list(ledger_views.recent_calls(recent, trim=True))
    assert [[key for key, _ in c["recent"]] for c in calls] == [["{ledger}:entries:ann", "{ledger}:entries:bob"],
                                                                 ["{ledger}:entries:cy"]]
    assert [c["trim"] for c in calls] == [["{ledger}:entries:ann", "{ledger}:entries:bob"], ["{ledger}:entries:cy"]]
    assert all(c["trim"] == [] for c in ledger_views.recent_calls(recent))


def test_building_the_service_connects_to_nothing(tmp_path):
    from services.core.settings import Settings

    rt = build(Settings(service="ledger", state_dir=tmp_path, kafka_bootstrap="127.0.0.1:1"))
    assert rt.service == "ledger" and rt.producer is None and rt.redis is None
    assert not rt.state_recovered.is_set()
    assert build(Settings(service="ledger", state_dir=tmp_path)) is not rt  # a fresh runtime each time


def test_balance_records_and_entries_keep_the_contracts_topics():
    assert (JOURNAL, BALANCES) == (LedgerEntry.topic, Balance.topic)
