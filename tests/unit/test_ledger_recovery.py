"""The ledger's recovery (services/ledger/recovery.py) and a worker's commit (worker.py) against
in-memory stand-ins for Kafka and Redis: a restart from nothing or from a checkpoint ends with
the state, views and Redis members of a run that never stopped."""
import asyncio
import fnmatch
import json
from collections import namedtuple

import orjson
import pytest
from aiokafka import TopicPartition

from services.core.runtime import Runtime
from services.core.settings import Settings
from services.ledger import recovery
from services.ledger.batch import BatchStep
from services.ledger.recovery import Checkpoints, recover
from services.ledger.rule_table import load_rules
from services.ledger.state import LedgerState
from services.ledger.store import StateStore, unpack_offsets
from services.ledger.topics import GROUP_ID, JOURNAL
from services.ledger.views import RedisViews
from services.ledger.worker import LedgerWorker

Msg = namedtuple("Msg", "topic partition offset timestamp value")


class FakeRedis:
    """What RedisViews asks of a redis.asyncio client, with the calls it got."""

    def __init__(self):
        self.calls: list[dict] = []  # the view updates the Lua script was called with
        self.commands: list[tuple] = []
        self.keys: set[str] = set()
        self.written: list[str] = []  # the keys the script was given

    def register_script(self, lua):
        async def script(keys, args):
            if "RENAME" in lua:  # the swap of a rebuild's staged views
                self.commands.append(("publish", list(keys), list(args)))
                return
            self.calls.append(json.loads(args[0]))
            self.written.extend(keys)
            self.keys.update(keys)
        return script

    async def scan_iter(self, match, count):
        for key in sorted(self.keys):
            if fnmatch.fnmatchcase(key, match):
                yield key

    async def delete(self, *keys):
        self.commands.append(("delete", *keys))

    def pipeline(self, transaction):
        redis = self

        class Pipe:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            def __getattr__(self, name):
                return lambda *args: redis.commands.append((name, *args))

            async def execute(self):
                redis.commands.append(("execute",))
        return Pipe()


class Log:
    """Topics in memory, and read_until over them."""

    def __init__(self):
        self.topics: dict[str, list[Msg]] = {}
        self.starts: list[dict] = []

    def append(self, topic, value):
        records = self.topics.setdefault(topic, [])
        records.append(Msg(topic, 0, len(records), len(records), value))

    def end(self, topic):
        return {TopicPartition(topic, 0): len(self.topics.get(topic, []))}

    async def read_until(self, bootstrap, topics, until=None, start=None):
        self.starts.append(dict(start or {}))
        for topic in topics:
            tp = TopicPartition(topic, 0)
            first, last = (start or {}).get(tp, 0), (until or {}).get(tp, 0)
            records = [m for m in self.topics.get(topic, []) if first <= m.offset < last]
            for i in range(0, len(records), 3):  # small batches: several per topic
                yield records[i:i + 3]


class Watermarks:
    def __init__(self, log):
        self.log = log

    async def end_offsets(self, tps):
        return {tp: len(self.log.topics.get(tp.topic, [])) for tp in tps}


def post(pid, author):
    return orjson.dumps({"post_id": pid, "author_id": author, "text": "x", "created_at": "2026-11-26T10:00:00.000Z",
                         "reply_to": None, "tags": [], "source": "t", "intent": "request", "confidence": 1.0,
                         "scores": {}, "topics": [], "model_version": "t"})


def upvote(rid, actor, pid):
    return orjson.dumps({"reaction_id": rid, "actor_id": actor, "post_id": pid, "kind": "upvote",
                         "created_at": "2026-11-26T10:01:00.000Z"})


@pytest.fixture
def kafka(monkeypatch):
    log = Log()

    async def partitions(consumer, topics):
        return [TopicPartition(t, 0) for t in topics]

    monkeypatch.setattr(recovery, "read_until", log.read_until)
    monkeypatch.setattr(recovery, "topic_partitions", partitions)
    return log


def live_run(log, inputs, step):
    """What the live worker does with new inputs: the batch's entries go to the journal."""
    msgs = []
    for topic, value in inputs:
        log.append(topic, value)
        msgs.append(log.topics[topic][-1])
    batch = asyncio.run(step.prepare(msgs))
    for _, payload in batch.encoded:
        log.append(JOURNAL, payload)
    return batch


def committed(log):
    return {**log.end("posts.classified.v1"), **log.end("reactions.v1")}


def restart(log, path):
    """A new process: a fresh step and store file handle, recovered against the log."""
    async def go():
        store = StateStore(path, 2)  # a tiny cache: the replay runs through evictions and checkpoints
        step = BatchStep(load_rules())
        checkpoints = Checkpoints(store, step, Watermarks(log), views_written=asyncio.sleep)
        redis = FakeRedis()
        await recover(step, checkpoints, RedisViews(redis), "unused", committed(log))
        await checkpoints.written()
        return step, checkpoints, redis
    return asyncio.run(go())


def test_a_restart_from_nothing_then_from_its_checkpoint_ends_as_a_run_that_never_stopped(kafka, tmp_path):
    live = BatchStep(load_rules())
    first = [("posts.classified.v1", post("p1", "ann")), ("posts.classified.v1", post("p2", "bob"))] + \
        [("reactions.v1", upvote(f"r{i}", f"voter{i}", "p1" if i % 2 else "p2")) for i in range(7)]
    live_batch = live_run(kafka, first, live)

    step, checkpoints, redis = restart(kafka, tmp_path / "rules.sqlite")
    assert step.applied == committed(kafka) and step.views.balances() == live.views.balances()
    written = {u: p for call in redis.calls for u, p in call["balances"].items()}
    assert written == live.views.balances() == {"ann": 15, "bob": 20}
    # the recent-entry members the live write had, so that writing them again adds nothing
    live_members = {m for _, members in live_batch.views["recent"] for m in members[1::2]}
    assert {m for call in redis.calls for _, members in call["recent"] for m in members[1::2]} == live_members
    meta = checkpoints.store.meta()
    assert unpack_offsets(meta["journal"]) == {(JOURNAL, 0): len(kafka.topics[JOURNAL])}
    assert unpack_offsets(meta["inputs"]) == {(tp.topic, tp.partition): o for tp, o in committed(kafka).items()}
    checkpoints.store.close()

    more = [("reactions.v1", upvote("r1", "voter1", "p1")), ("reactions.v1", upvote("r9", "cy", "p2"))]
    later = live_run(kafka, more, live)
    kafka.starts.clear()
    step, checkpoints, redis = restart(kafka, tmp_path / "rules.sqlite")
    # from the checkpoint: only what came after it is read again
    assert kafka.starts[0] == {TopicPartition("posts.classified.v1", 0): 2, TopicPartition("reactions.v1", 0): 7}
    assert kafka.starts[1] == {TopicPartition(JOURNAL, 0): len(kafka.topics[JOURNAL]) - len(later.encoded)}
    assert step.views.balances() == live.views.balances() == {"ann": 15, "bob": 25}  # r1 again is a no-op
    # only the users with entries since the checkpoint get their views written again
    assert {u: p for call in redis.calls for u, p in call["balances"].items()} == {"bob": 25}
    assert step.applied == committed(kafka)
    nxt = [("reactions.v1", upvote("r10", "dee", "p1"))]
    assert [e for e, _ in asyncio.run(step.prepare([Msg("reactions.v1", 0, 9, 9, nxt[0][1])])).encoded] == \
        [e for e, _ in live_run(kafka, nxt, live).encoded]
    checkpoints.store.close()


def test_a_checkpoint_ahead_of_kafka_is_dropped_and_the_state_rebuilt(kafka, tmp_path):
    live = BatchStep(load_rules())
    live_run(kafka, [("posts.classified.v1", post("p1", "ann")), ("reactions.v1", upvote("r1", "bob", "p1"))], live)
    step, checkpoints, _ = restart(kafka, tmp_path / "rules.sqlite")
    checkpoints.store.close()
    kafka.topics.clear()  # the topics recreated under the old file
    live = BatchStep(load_rules())
    live_run(kafka, [("posts.classified.v1", post("p7", "cy"))], live)
    kafka.starts.clear()
    step, checkpoints, _ = restart(kafka, tmp_path / "rules.sqlite")
    assert kafka.starts[0] == {} and step.views.balances() == {} and step.state.posts.get("p1") is None
    assert step.state.posts.get("p7") is not None
    checkpoints.store.close()


class FakeProducer:
    def __init__(self):
        self.sent, self.offsets, self.transactions = [], [], 0

    def transaction(self):
        producer = self

        class Transaction:
            async def __aenter__(self):
                producer.transactions += 1

            async def __aexit__(self, *exc):
                return False
        return Transaction()

    async def send(self, topic, value, key=None):
        self.sent.append((topic, key, value))
        return asyncio.get_running_loop().create_future()

    async def send_offsets_to_transaction(self, offsets, group_id):
        self.offsets.append((dict(offsets), group_id))


def test_a_commit_sends_the_batch_and_its_offsets_in_one_transaction_then_writes_its_views(tmp_path):
    async def go():
        rt = Runtime("ledger", Settings(service="ledger", state_dir=tmp_path))
        rt.redis = FakeRedis()
        worker = LedgerWorker(rt, load_rules())
        worker.step.reset(LedgerState())
        msgs = [Msg("posts.classified.v1", 0, 0, 0, post("p1", "ann")), Msg("reactions.v1", 2, 5, 1, upvote("r1", "bob", "p1")),
                Msg("erasures.v1", 0, 3, 2, orjson.dumps({"erasure_id": "e", "user_id": "bob", "requested_at": "x"}))]
        batch = await worker.step.prepare(msgs)
        producer = FakeProducer()
        await worker.commit(producer, batch)
        await worker.views_written()
        return rt.redis, producer, batch

    redis, producer, batch = asyncio.run(go())
    assert producer.transactions == 1 and producer.sent == batch.out
    assert producer.offsets == [({TopicPartition("posts.classified.v1", 0): 1, TopicPartition("reactions.v1", 2): 6,
                                  TopicPartition("erasures.v1", 0): 4}, GROUP_ID)]
    assert redis.calls[0]["balances"] == batch.views["balances"] == {"ann": 5}
    assert ("hdel", "{ledger}:balance", "bob") in redis.commands  # the erased user leaves the views


def test_a_rebuild_writes_the_views_and_members_the_live_worker_wrote(kafka, monkeypatch):
    from services.ledger import admin

    live = BatchStep(load_rules())
    batch = live_run(kafka, [("posts.classified.v1", post("p1", "ann")), ("reactions.v1", upvote("r1", "bob", "p1")),
                             ("reactions.v1", upvote("r2", "cy", "p1"))], live)
    redis = FakeRedis()
    redis.keys = {"{ledger}:balance", "{ledger}:lb:all", "{ledger}:entries:gone"}

    async def aclose():
        pass

    redis.aclose = aclose

    async def read_all(bootstrap, topics):
        until = {tp: end for t in topics for tp, end in kafka.end(t).items()}
        async for records in kafka.read_until(bootstrap, topics, until):
            yield records

    monkeypatch.setattr(admin, "read_until", read_all)
    monkeypatch.setattr(admin.redis_client, "connect", lambda settings, max_connections: redis)
    assert asyncio.run(admin.rebuild()) == 0
    # written aside, then swapped in: the stale view deleted and every staged key renamed, in one transaction
    assert redis.written and all(k.startswith("{ledger}:staging:") for k in redis.written)
    (keys, (stale, n)), = [(c[1], c[2]) for c in redis.commands if c[0] == "publish"]
    assert keys[:stale] == ["{ledger}:entries:gone"]  # a live view the journal no longer has
    staged_keys, targets = keys[stale:stale + n], keys[stale + n:]
    assert set(staged_keys) == set(redis.written) and targets == [k.replace("staging:", "", 1) for k in staged_keys]
    assert {u: p for call in redis.calls for u, p in call["balances"].items()} == live.views.balances() == {"ann": 10}
    boards = {key: members for call in redis.calls for key, members in call["leaderboards"]}
    assert boards == {key: members for key, members in batch.views["leaderboards"]}
    assert [r for call in redis.calls for r in call["recent"]] == batch.views["recent"]
