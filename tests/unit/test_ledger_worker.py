"""The ledger worker's batch step (services/ledger/app.py), without Kafka or Redis: what one
transaction would commit for a batch of input records."""
import asyncio
from collections import namedtuple

import orjson
from aiokafka import TopicPartition

from services.ledger.app import LedgerWorker, decode_batch, fetched_offsets, next_offsets

Msg = namedtuple("Msg", "topic partition offset timestamp value")


def post(offset, pid, author):
    return Msg("posts.classified.v1", 0, offset, offset, orjson.dumps(
        {"post_id": pid, "author_id": author, "text": "x", "created_at": "2026-11-26T10:00:00.000Z",
         "reply_to": None, "tags": [], "source": "t", "intent": "request", "confidence": 1.0,
         "scores": {}, "topics": [], "model_version": "t"}))


def upvote(offset, rid, actor, pid, partition=1):
    return Msg("reactions.v1", partition, offset, offset, orjson.dumps(
        {"reaction_id": rid, "actor_id": actor, "post_id": pid, "kind": "upvote",
         "created_at": "2026-11-26T10:01:00.000Z"}))


def test_posts_are_applied_before_the_reactions_of_their_batch():
    events, rejected = decode_batch([upvote(5, "r1", "bob", "p1"), post(9, "p1", "ann")])
    assert [ev["type"] for _, ev in events] == ["post", "reaction"] and rejected == []


def prepare(worker, msgs):
    return asyncio.run(worker.prepare(msgs))


def test_a_batch_gives_entries_balances_and_the_next_offsets():
    batch = prepare(LedgerWorker(), [post(0, "p1", "ann"), upvote(3, "r1", "bob", "p1"), upvote(4, "r2", "cy", "p1")])
    assert [e.user_id for e, _ in batch.encoded] == ["ann", "ann"]
    assert {(tp.topic, tp.partition): o for tp, o in batch.offsets.items()} == \
        {("posts.classified.v1", 0): 1, ("reactions.v1", 1): 5}
    assert batch.views["balances"] == {"ann": sum(e.delta for e, _ in batch.encoded)}
    assert batch.views["balances"]["ann"] > 0
    assert batch.dead == []


def downvote(offset, rid, actor, pid):
    return Msg("reactions.v1", 1, offset, offset, orjson.dumps(
        {"reaction_id": rid, "actor_id": actor, "post_id": pid, "kind": "downvote",
         "created_at": "2026-11-26T10:02:00.000Z"}))


def test_a_batch_counts_its_entries_by_reason_and_the_points_minted_and_burned():
    batch = prepare(LedgerWorker(), [post(0, "p1", "ann"), upvote(1, "r1", "bob", "p1"),
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
    worker = LedgerWorker()
    first = prepare(worker, [post(0, "p1", "ann"), upvote(1, "r1", "bob", "p1")])
    many = [upvote(2 + i, f"r{2 + i}", f"voter{i}", "p1") for i in range(120)]  # more than YIELD_EVERY
    second = prepare(worker, many)
    after_first = sum(e.delta for e, _ in first.encoded)
    assert first.views["balances"] == {"ann": after_first}
    assert second.views["balances"] == {"ann": after_first + sum(e.delta for e, _ in second.encoded)}
    assert len(second.encoded) == 120 and len(second.views["recent"][0][1]) == 2 * 120  # (score, entry) pairs


def test_records_that_are_not_events_are_dead_lettered_and_the_rest_go_on():
    null_value = Msg("reactions.v1", 1, 7, 7, None)
    garbage = Msg("reactions.v1", 1, 8, 8, b"[1, 2]")
    batch = prepare(LedgerWorker(), [post(0, "p1", "ann"), null_value, garbage, upvote(9, "r1", "bob", "p1")])
    assert sorted(d.offset for d in batch.dead) == [7, 8]
    assert all(d.topic_name == "reactions.v1" and d.error for d in batch.dead)
    assert [e.user_id for e, _ in batch.encoded] == ["ann"]
    assert next_offsets([null_value, garbage]) == {TopicPartition("reactions.v1", 1): 9}


def _worker_with_store(directory):
    from services.ledger.rules import LedgerState
    from services.ledger.store import StateStore

    worker = LedgerWorker()
    worker.store = StateStore(directory / "rules.sqlite", 1000)
    worker.state = LedgerState(worker.store)
    worker.watermarks = object()  # not asked: the views' part of a checkpoint is not due
    worker.last_views_checkpoint = float("inf")
    return worker


def test_a_checkpoint_taken_during_a_transaction_is_written_only_once_it_commits(tmp_path):
    """The batch in flight is in the checkpoint's values and offsets, so the checkpoint must not
    reach the disk before that batch is committed in Kafka, and never if its commit fails."""
    async def go(commit_fails):
        worker = _worker_with_store(tmp_path / str(commit_fails))
        await worker.prepare([post(0, "p1", "ann"), upvote(1, "r1", "bob", "p1")])
        worker.commit_in_flight = asyncio.get_running_loop().create_future()
        await worker.checkpoint()
        for _ in range(20):  # the writer thread would have long finished by now
            await asyncio.sleep(0.01)
        before = worker.store.meta()
        if commit_fails:
            worker.commit_in_flight.set_exception(RuntimeError("transaction aborted"))
        else:
            worker.commit_in_flight.set_result(None)
        try:
            await worker.checkpoint_written()
            failed = None
        except RuntimeError as exc:
            failed = exc
        after = worker.store.meta()
        worker.store.close()
        return before, after, failed

    before, after, failed = asyncio.run(go(commit_fails=False))
    assert before == {} and failed is None
    assert after["inputs"] and after["state"]  # written, with the offsets after the batch
    before, after, failed = asyncio.run(go(commit_fails=True))
    assert before == {} and after == {} and isinstance(failed, RuntimeError)


def test_recovery_writes_every_view_in_calls_of_at_most_view_chunk_members(monkeypatch):
    from services.ledger import app

    worker = LedgerWorker()
    prepare(worker, [post(0, "p1", "ann"), post(1, "p2", "bob"), post(2, "p3", "cy"),
                     upvote(3, "r1", "dee", "p1"), upvote(4, "r2", "dee", "p2"), upvote(5, "r3", "dee", "p3")])
    monkeypatch.setattr(app, "VIEW_CHUNK", 2)
    calls = list(worker.all_views())
    balances, boards = {}, {}
    for call in calls:
        size = len(call["balances"]) + sum(len(members) for _, members in call["leaderboards"])
        assert 0 < size <= 2 and call["recent"] == [] and call["trim"] == []
        balances.update(call["balances"])
        for key, members in call["leaderboards"]:
            boards.setdefault(key, {}).update(members)
    assert balances == worker.views.balances and set(balances) == {"ann", "bob", "cy"}
    expected = {f"ledger:lb:{name}:{key}": bucket for name in ("day", "week")
                for key, bucket in worker.views.windows[name].items()}
    assert boards == expected and len(expected) == 2  # the day and its week
    assert len(calls) == 6  # three users in calls of two: the balances, the day, the week
