"""ledger: social currency in real time, exactly once.

Exactly once by Kafka transactions (consume-transform-produce): each batch's entries, balances,
dead letters and the consumed input offsets are committed in one transaction by a producer with
a fixed transactional id, so a restarted (or zombie) worker is fenced and a crash at any point
either commits the whole batch or none of it.

The rules' memory (votes, accepts, caps, rings) lives on local disk with a bounded cache
(services/ledger/store.py). Every CHECKPOINT_EVERY_S, between transactions, it is checkpointed
with the input offsets it reflects and the live views with the journal offsets they reflect. At
start the worker takes the checkpoint (or, when it is missing or ahead of Kafka, nothing) and
re-applies the inputs from its offsets up to the offsets committed in Kafka, discarding the
entries (they are in the journal), and reads the journal from its offsets: balances and
leaderboard totals come from the journal, so they always equal it. Redis views are written after
each commit with absolute values and idempotent members, so a crash between the commit and the
view update is repaired by the next start. Business rules: services/ledger/rules.py.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from services.core import metrics as core_metrics
from services.core.contracts import Balance, DeadLetter, LedgerEntry, dumps, utc_day, utc_now
from services.core.kafka_io import read_until, send_many, topic_partitions
from services.core.openapi import ledger_document
from services.core.runtime import Runtime, event, json_response, log, problem, settle_heap
from services.ledger.rules import InvalidEvent, LedgerState, UnknownPost, apply_event, load_rules
from services.ledger.store import (FORMAT, StateStore, TakenCheckpoint, checkpoint_problem, pack_offsets,
                                   unpack_offsets)
from services.ledger.views import (RECENT_ENTRIES, WINDOWS, Views, current_window, day_windows, epoch,
                                   view_key)

INPUTS = {"posts.classified.v1": "post", "reactions.v1": "reaction", "matches.v1": "match",
          "ledger.adjustments.v1": "adjustment", "erasures.v1": "erasure"}
# Facts before the reactions that refer to them, within a batch and in recovery alike.
INPUT_ORDER = {"posts.classified.v1": 0, "matches.v1": 1, "reactions.v1": 2, "ledger.adjustments.v1": 3,
               "erasures.v1": 4}
GROUP_ID = "goalpost-ledger-journal"  # its offsets are committed inside the transactions
TRANSACTIONAL_ID = "goalpost-ledger-0"
JOURNAL = "ledger.entries.v1"
TRIM_EVERY_S = 2.0
CHECKPOINT_EVERY_S = 30.0  # at most this much input is re-applied after a crash
# The rules yield to the event loop every this many events, so that the previous batch's
# transaction and Redis write make progress while this one is computed. Without it the loop was
# blocked for a whole batch (~150 ms), each of the transaction's round trips waited for the end
# of a batch, and the worker stood idle a third of the time waiting for its commits.
YIELD_EVERY = 50
KEEP_WINDOWS = 3  # days and weeks kept in memory for the leaderboards: the current ones, and two for late entries

ENTRIES = Counter("goalpost_ledger_entries_total", "Journal entries written, by reason", ["reason"])
MINTED = Counter("goalpost_ledger_points_minted_total", "Sum of positive entry deltas")
BURNED = Counter("goalpost_ledger_points_burned_total", "Sum of negative entry deltas (as a positive number)")
RINGS = Counter("goalpost_ledger_rings_flagged_total", "Reward rings flagged and dampened")
APPLY_SECONDS = Histogram("goalpost_ledger_apply_seconds", "Time from batch start to committed transaction",
                          buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
PARKED = Gauge("goalpost_ledger_parked_reactions", "Reactions waiting for their post")
RECOVERIES = Counter("goalpost_ledger_recoveries_total", "State rebuilds (at start and after failures)")
CHECKPOINT_SECONDS = Histogram("goalpost_ledger_checkpoint_seconds", "Time to checkpoint the rules' memory to disk",
                               buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
CACHED = Gauge("goalpost_ledger_cached_values", "Values of the rules' memory held in RAM (the rest is on disk)")
REPLAYED = Counter("goalpost_ledger_replayed_inputs_total", "Inputs re-applied at recovery (after the checkpoint)")

rt = Runtime("ledger")
settings = rt.settings
RULES = load_rules()


def _input_order(m: Any) -> tuple:
    return (INPUT_ORDER[m.topic], m.timestamp, m.partition, m.offset)


def _plain(offsets: dict[TopicPartition, int]) -> dict[tuple[str, int], int]:
    return {(tp.topic, tp.partition): o for tp, o in offsets.items()}


def _partitions(offsets: dict[tuple[str, int], int]) -> dict[TopicPartition, int]:
    return {TopicPartition(topic, p): o for (topic, p), o in offsets.items()}


def to_event(topic: str, value: bytes) -> dict[str, Any]:
    data = orjson.loads(value)
    if not isinstance(data, dict):
        raise InvalidEvent("$", "expected a JSON object")
    data["type"] = INPUTS[topic]  # a fresh dict of our own: tagged in place, not copied
    return data


def decode_batch(msgs: list) -> tuple[list[tuple[Any, dict[str, Any]]], list[tuple[Any, str]]]:
    """A batch's events in the order they are applied (live and in recovery alike), and the
    messages that are not events, each with the reason."""
    events, rejected = [], []
    for msg in sorted(msgs, key=_input_order):
        try:
            events.append((msg, to_event(msg.topic, msg.value)))
        except (ValueError, InvalidEvent) as exc:  # JSON errors are ValueErrors
            rejected.append((msg, str(exc)))
        except Exception as exc:  # a bug must not turn one message into a crash loop
            log.exception("ledger could not decode %s[%s]@%s", msg.topic, msg.partition, msg.offset)
            rejected.append((msg, f"internal error: {exc!r}"))
    return events, rejected


def next_offsets(msgs: list) -> dict[TopicPartition, int]:
    """The next input offset per partition after these messages."""
    last: dict[tuple[str, int], int] = {}
    for m in msgs:
        where = (m.topic, m.partition)
        if last.get(where, -1) < m.offset:
            last[where] = m.offset
    return {TopicPartition(topic, p): offset + 1 for (topic, p), offset in last.items()}


def fetched_offsets(fetched: dict[TopicPartition, list]) -> dict[TopicPartition, int]:
    """next_offsets of a consumer's getmany() result, whose records per partition are in offset
    order: the last one of each partition says it."""
    return {tp: records[-1].offset + 1 for tp, records in fetched.items() if records}


def _dead_letter(msg: Any, reason: str) -> DeadLetter:
    return DeadLetter.of("ledger", msg.topic, msg.partition, msg.offset, reason, msg.value or b"")


@dataclass
class PreparedBatch:
    started: float  # perf_counter at the start of prepare (apply latency runs to the commit)
    inputs: int
    encoded: list[tuple[LedgerEntry, bytes]]  # new entries with their JSON
    dead: list[DeadLetter]
    reasons: dict[str, int]  # entries by reason, and the points minted and burned, for the metrics
    minted: int
    burned: int
    out: list[tuple[str, bytes, Optional[bytes]]]  # (topic, key, value): entries, balances (None: a tombstone), dead letters
    offsets: dict[TopicPartition, int]  # next input offset per partition
    views: dict[str, Any]  # the Redis views' new values after this batch (see views_update)
    erased: list[str] = field(default_factory=list)  # users erased by this batch: out of every view


class LedgerWorker:
    def __init__(self) -> None:
        self.store: Optional[StateStore] = None  # open while run() runs
        self.state = LedgerState()
        self.views = Views(dedupe=False, keep_windows=KEEP_WINDOWS)
        self.applied: dict[TopicPartition, int] = {}  # next input offset per partition, as in self.state
        self.journal_tps: list[TopicPartition] = []
        # Reads the journal's high watermarks. Not the last stable offsets of a read_committed
        # consumer: right after a commit returns, the broker may not have written the commit
        # markers yet, and the last stable offset still stands before the batch just committed.
        # With no transaction open (ours is the only producer of the journal and fenced its
        # predecessors at start), the high watermark is past every committed entry.
        self.watermarks: Optional[AIOKafkaConsumer] = None
        self.last_checkpoint = 0.0
        self.last_views_checkpoint = 0.0
        self.untrimmed: set[str] = set()  # users whose recent-entry set may hold more than RECENT_ENTRIES
        self.last_trim = 0.0
        # The Redis write of the previous batch runs while the next batch is computed and
        # committed; at most one is in flight, so views are written in commit order.
        self.views_in_flight: Optional[asyncio.Task] = None
        self.commit_in_flight: Optional[asyncio.Task] = None
        self.checkpoint_in_flight: Optional[asyncio.Future] = None  # written by the store's thread

    # ------------------------------------------------------------ recovery
    async def recover(self, committed: dict[TopicPartition, int]) -> None:
        RECOVERIES.inc()
        started = time.perf_counter()
        await self.views_written()
        store = self.store
        assert store is not None
        assert self.watermarks is not None
        self.journal_tps = await topic_partitions(self.watermarks, [JOURNAL])
        journal_end = await self.watermarks.end_offsets(self.journal_tps)
        meta = store.meta()
        problem = checkpoint_problem(meta, _plain(committed), _plain(journal_end))
        if problem is None:
            try:
                self.state = LedgerState.restore(store, meta["state"])
                self.views = Views.from_bytes(meta["views"])
            except ValueError as exc:  # another state schema
                problem = str(exc)
        if problem is None:
            inputs_from, journal_from = (_partitions(unpack_offsets(meta[p])) for p in ("inputs", "journal"))
            self.applied = dict(inputs_from)
        else:
            event("ledger rebuilding its rules' memory from the topics", why=problem)
            store.wipe()
            self.state, self.views = LedgerState(store), Views(dedupe=False, keep_windows=KEEP_WINDOWS)
            inputs_from, journal_from = {}, {}
            self.applied = {}
            await self.checkpoint({}, wait=True)  # a complete starting point: later ones may be partial
        n = 0
        async for batch in read_until(settings.kafka_bootstrap, INPUTS, committed, start=inputs_from):
            events, _ = decode_batch(batch)  # the rejected ones were dead-lettered when first consumed
            self.state.prefetch(ev for _, ev in events)
            for _, ev in events:
                try:
                    apply_event(self.state, ev, RULES)
                except Exception:
                    pass  # dead-lettered when it was first consumed
            self.applied.update(next_offsets(batch))
            n += len(batch)
            self.state.evict()
            if store.dirty >= store.capacity:  # a long replay keeps its memory bounded too
                store.checkpoint({"state": self.state.small_parts(), "inputs": pack_offsets(_plain(self.applied))})
        REPLAYED.inc(n)
        self.applied = dict(committed)  # the committed offsets may sit past a transaction marker
        async for batch in read_until(settings.kafka_bootstrap, [JOURNAL], journal_end, start=journal_from):
            recent: dict[str, list] = {}
            for msg in batch:
                entry = orjson.loads(msg.value)
                self.views.add(entry)
                # The recent-entry members of the batches whose Redis write a crash may have lost
                # (those since the views' checkpoint), the same members as the live write's.
                recent.setdefault(entry["user_id"], []).extend(_recent_member(entry["created_at"], msg.value))
            # (trimmed in the same call: after a rebuild from the beginning of the journal, a
            # trim of every user left for the first live batch would be one huge call)
            keys = {u: view_key("entries", u) for u in recent}
            await self.write_views(_view_update(recent=[[keys[u], m] for u, m in recent.items()],
                                                trim=list(keys.values())))
        for user in self.state.erased:  # their old entries were counted again by the replay
            self.views.forget(user)
        await erase_views(sorted(self.state.erased))
        await self.checkpoint(journal_end)
        for chunk in self.all_views():
            await self.write_views(chunk)
        # The rebuilt state is long-lived dicts and strings: keep the collector from walking it
        # again on every full pass (those passes showed up as a tenth of the ledger's time).
        # Young collections every 100,000 allocations, not 20,000: a batch holds large young
        # containers (the dirty-key sets, its entries and records) that each young pass walks.
        # At 20,000, a 50,000-entry benchmark run took ~10 of them at 10-29 ms each (~5% of
        # the run, timed with gc.callbacks); at 100,000, one in three runs.
        settle_heap(first_generation=100_000)
        event("ledger recovered", replayed_inputs=n, from_checkpoint=problem is None,
              users=len(self.views.balances), seconds=round(time.perf_counter() - started, 2))

    # ------------------------------------------------------------ checkpoints
    def checkpoint_due(self) -> bool:
        store = self.store
        assert store is not None
        if self.checkpoint_in_flight is not None and not self.checkpoint_in_flight.done():
            return False  # the thread is still writing the last one: do not wait for it
        return store.dirty > 0 and (time.monotonic() - self.last_checkpoint >= CHECKPOINT_EVERY_S
                                    or store.dirty >= store.capacity)

    async def checkpoint(self, journal_end: Optional[dict] = None, wait: bool = False) -> None:
        """Takes the rules' memory with the input offsets it reflects and, given `journal_end`
        or every CHECKPOINT_EVERY_S, the live views with the journal offsets they reflect (the
        two parts are independent; the views, one value per user, are not worth serialising at
        every checkpoint that a full cache forces). The values are taken now, between batches;
        the store's thread writes them once the transaction in flight has committed, so a
        checkpoint never holds anything beyond Kafka. (Waiting for that commit before taking
        them stalled the pipeline at every checkpoint: 0.03-0.2 s each, about one a second
        under load.)"""
        assert self.store is not None and self.watermarks is not None
        await self.checkpoint_written()
        now = time.monotonic()
        parts = {"format": FORMAT.encode(), "state": self.state.small_parts(),
                 "inputs": pack_offsets(_plain(self.applied))}
        if journal_end is None and now - self.last_views_checkpoint >= CHECKPOINT_EVERY_S:
            # The journal's high watermark is its committed end only while no transaction is open.
            await self.committed()
            journal_end = await self.watermarks.end_offsets(self.journal_tps)
        if journal_end is not None:
            parts.update(views=self.views.to_bytes(), journal=pack_offsets(_plain(journal_end)))
            self.last_views_checkpoint = now
        taken = self.store.take_checkpoint(parts)
        writing = asyncio.ensure_future(self._write_checkpoint(taken, self.commit_in_flight))
        # its failure is raised by checkpoint_written(), or by the failed commit's own await first
        writing.add_done_callback(lambda task: task.cancelled() or task.exception())
        self.checkpoint_in_flight = writing
        self.last_checkpoint = now
        if wait:
            await self.checkpoint_written()

    async def _write_checkpoint(self, taken: TakenCheckpoint, commit: Optional[asyncio.Task]) -> None:
        if commit is not None:
            await asyncio.shield(commit)  # a failed transaction raises here: nothing is written
        started = time.perf_counter()
        assert self.store is not None
        await asyncio.wrap_future(self.store.write_checkpoint(taken))
        CHECKPOINT_SECONDS.observe(time.perf_counter() - started)

    async def checkpoint_written(self) -> None:
        """Waits for the checkpoint being written; raises if it failed."""
        writing, self.checkpoint_in_flight = self.checkpoint_in_flight, None
        if writing is not None:
            try:
                await writing
            finally:
                self.store.finish_checkpoint()  # type: ignore[union-attr]

    # ------------------------------------------------------------ live
    async def run(self) -> None:
        s = settings
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=GROUP_ID,
                                    enable_auto_commit=False, isolation_level="read_committed",
                                    auto_offset_reset="earliest", max_poll_records=s.ledger_batch)
        # Record batches of up to 512 KiB: a batch's entries then go in one request per partition.
        # At the default 16 KiB each partition took ~6 requests in turn (a partition has one batch
        # in flight), and the transaction's commit waited for them.
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, transactional_id=TRANSACTIONAL_ID,
                                    enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=1 << 19)
        # Opened afresh on every run: values applied after the last checkpoint are dropped with
        # the old connection, and recovery re-applies them from Kafka.
        self.store = StateStore(s.ledger_store, s.ledger_cache_items)
        self.watermarks = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        # The producer starts (InitProducerId) before the committed offsets are read: the broker
        # completes a predecessor's transaction first, so its offsets are not read stale.
        await producer.start()
        await self.watermarks.start()
        try:
            tps = await topic_partitions(consumer, INPUTS)
            consumer.assign(tps)
            committed = {}
            for tp in tps:
                committed[tp] = (await consumer.committed(tp)) or 0
                consumer.seek(tp, committed[tp])
            await self.recover(committed)
            rt.state_recovered.set()
            while True:
                got = await consumer.getmany(timeout_ms=200, max_records=s.ledger_batch)
                msgs = [m for batch in got.values() for m in batch]
                if self.checkpoint_in_flight is not None and self.checkpoint_in_flight.done():
                    await self.checkpoint_written()  # its values may be evicted now
                if msgs:
                    if self.checkpoint_due():
                        await self.checkpoint()  # written once the batch in flight commits
                    batch = await self.prepare(msgs, fetched_offsets(got))
                    # Batch N+1 is computed while N commits; one transaction at a time. If N
                    # fails, the exception surfaces here and recovery discards both.
                    await self.committed()
                    self.commit_in_flight = asyncio.create_task(self.commit(producer, batch))
                elif self.commit_in_flight is not None and self.commit_in_flight.done():
                    await self.committed()
                elif self.views_in_flight is not None and self.views_in_flight.done():
                    await self.views_written()  # a failed write surfaces here and the worker recovers
                elif self.commit_in_flight is None and self.checkpoint_due():
                    await self.checkpoint()  # idle: the next start replays nothing
        finally:
            rt.state_recovered.clear()
            # (a checkpoint still waiting for its transaction is not written: the store closes)
            for task in (self.commit_in_flight, self.views_in_flight, self.checkpoint_in_flight):
                if task is not None:
                    task.cancel()
            self.commit_in_flight = self.views_in_flight = self.checkpoint_in_flight = None
            self.store.close()  # waits for a checkpoint being written
            await self.watermarks.stop()
            await consumer.stop()
            await producer.stop()

    async def prepare(self, msgs: list, offsets: Optional[dict[TopicPartition, int]] = None) -> "PreparedBatch":
        """Applies the rules to a batch: the entries, balances, dead letters and input offsets
        that one transaction will commit, and the views after it. CPU only, but it lets the
        event loop run every YIELD_EVERY events; nothing else touches the rules' state meanwhile
        (checkpoints and recovery run between batches). `offsets`: next_offsets(msgs), if the
        caller knows them already."""
        started = time.perf_counter()
        if offsets is None:
            offsets = next_offsets(msgs)
        entries: list[LedgerEntry] = []
        events, rejected = decode_batch(msgs)
        dead = [_dead_letter(msg, reason) for msg, reason in rejected]
        self.state.prefetch(ev for _, ev in events)
        for i, (msg, ev) in enumerate(events):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            try:
                entries.extend(apply_event(self.state, ev, RULES))
                for ring in self.state.last_flagged:
                    RINGS.inc()
                    event("reward ring flagged", members=ring.get("members"))
            except (ValueError, InvalidEvent, UnknownPost) as exc:
                dead.append(_dead_letter(msg, str(exc)))
            except Exception as exc:  # a bug must not turn one message into a crash loop
                log.exception("ledger rule failed on %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                dead.append(_dead_letter(msg, f"internal error: {exc!r}"))
        # One pass over the new entries for the views, the changed balances, the Redis update
        # and the metrics (separate passes, and the day computed twice, cost ~5% of the loop).
        views = self.views
        changed: dict[str, LedgerEntry] = {}
        by_day: dict[str, set[str]] = {}  # (a batch's entries fall on a few days: their windows once each)
        recent: dict[str, list] = {}
        reasons: dict[str, int] = {}
        minted = burned = 0
        encoded = [(e, e.to_json()) for e in entries]  # once: for the journal and the recent-entry view
        for e, payload in encoded:
            user, delta, created = e.user_id, e.delta, e.created_at
            day = utc_day(created)
            views.count(user, delta, day)
            changed[user] = e
            users_of_day = by_day.get(day)
            if users_of_day is None:
                users_of_day = by_day[day] = set()
            users_of_day.add(user)
            members = recent.get(user)
            if members is None:
                members = recent[user] = []
            members += _recent_member(created, payload)
            reasons[e.reason] = reasons.get(e.reason, 0) + 1
            if delta > 0:
                minted += delta
            else:
                burned -= delta
        erased = [ev["user_id"] for _, ev in events if ev.get("type") == "erasure"]
        for user in erased:  # out of the views; a tombstone takes their balance off the compacted topic
            views.forget(user)
            changed.pop(user, None)
            recent.pop(user, None)
            for users_of_day in by_day.values():
                users_of_day.discard(user)
        balances = [Balance(user_id=u, balance=views.balances[u], updated_at=e.created_at,
                            last_entry_id=e.entry_id) for u, e in changed.items()]
        self.applied.update(offsets)
        self.state.evict()  # between events: no rule holds a value it is about to change
        CACHED.set(sum(m.cached for m in self.store.maps.values()) if self.store else 0)
        out = [(e.topic, e.key(), payload) for e, payload in encoded]
        out += [(rec.topic, rec.key(), rec.to_json()) for rec in (*balances, *dead)]
        out += [("ledger.balances.v1", user.encode(), None) for user in erased]
        return PreparedBatch(started, len(msgs), encoded, dead, reasons, minted, burned, out, offsets,
                             self.views_update(changed, by_day, recent), erased)

    async def commit(self, producer: AIOKafkaProducer, batch: "PreparedBatch") -> None:
        async with producer.transaction():
            await send_many(producer, batch.out)
            await producer.send_offsets_to_transaction(batch.offsets, GROUP_ID)
        for reason, count in batch.reasons.items():
            ENTRIES.labels(reason).inc(count)
        MINTED.inc(batch.minted)
        BURNED.inc(batch.burned)
        for d in batch.dead:
            core_metrics.DLQ.labels("ledger", d.topic_name).inc()
        core_metrics.MESSAGES_IN.labels("ledger", "inputs").inc(batch.inputs)
        core_metrics.MESSAGES_OUT.labels("ledger", "ledger.entries.v1").inc(len(batch.encoded))
        PARKED.set(self.state.pending_count)
        APPLY_SECONDS.observe(time.perf_counter() - batch.started)
        await self.views_written()
        self.views_in_flight = asyncio.create_task(self.write_views(batch.views))
        if batch.erased:
            await self.views_written()
            await erase_views(batch.erased)

    async def committed(self) -> None:
        """Waits for the transaction in flight; raises if it failed."""
        task, self.commit_in_flight = self.commit_in_flight, None
        if task is not None:
            await task

    async def views_written(self) -> None:
        """Waits for the Redis write in flight; raises if it failed (the caller recovers, and
        recovery writes every view again)."""
        task, self.views_in_flight = self.views_in_flight, None
        if task is not None:
            await task

    # ------------------------------------------------------------ Redis views
    def views_update(self, users: Iterable[str], by_day: dict[str, set[str]], recent: dict[str, list]) -> dict:
        """The Redis views' values after a batch for the `users` it changed, as they stand now
        (exactly what its transaction commits, however late the write runs), as absolute values
        and idempotent members: safe to write again after a crash. `by_day` names the users
        with new entries per UTC day (their day and week windows are written) and `recent`
        holds each user's new entries as (score, JSON) pairs. Recent-entry sets are trimmed to
        RECENT_ENTRIES every few seconds rather than on every write (readers take the newest
        N anyway)."""
        v = self.views
        windows: dict[tuple[str, str], set[str]] = {}
        for day, users_of_day in by_day.items():
            for name, key in day_windows(day).items():
                windows.setdefault((name, key), set()).update(users_of_day)
        self.untrimmed.update(recent)
        trim = time.monotonic() - self.last_trim > TRIM_EVERY_S
        update = {
            "balances": {u: v.balances[u] for u in users},
            # not the windows closed and dropped (Views.keep_windows): they stay as written
            "leaderboards": [[view_key("lb", name, key), {u: bucket[u] for u in members}]
                             for (name, key), members in windows.items()
                             if (bucket := v.windows[name].get(key)) is not None],
            "recent": [[view_key("entries", user), members] for user, members in recent.items()],
            "trim": [view_key("entries", user) for user in self.untrimmed] if trim else [],
        }
        if trim:
            self.last_trim = time.monotonic()
            self.untrimmed.clear()
        return update

    def all_views(self) -> Iterator[dict]:
        """Every balance and leaderboard window as it stands (recovery writes them all again:
        a crash may have lost any write since the checkpoint), as script calls of at most
        VIEW_CHUNK members each, made one at a time: a whole update built at once held a
        second copy of every view, the ledger's peak memory at a restart."""
        balances = self.views.balances
        users = list(balances)
        for i in range(0, len(users), VIEW_CHUNK):
            yield _view_update(balances={u: balances[u] for u in users[i:i + VIEW_CHUNK]})
        for name in ("day", "week"):
            for key, bucket in self.views.windows[name].items():
                members = list(bucket)
                for i in range(0, len(members), VIEW_CHUNK):
                    yield _view_update(leaderboards=[[view_key("lb", name, key),
                                                      {u: bucket[u] for u in members[i:i + VIEW_CHUNK]}]])

    async def write_views(self, update: dict) -> None:
        assert rt.redis is not None
        write = rt.script("ledger_views", WRITE_VIEWS_LUA)
        for chunk in _chunks(update):
            await write(keys=[view_key("balance"), view_key("lb", "all")], args=[dumps(chunk), RECENT_ENTRIES])


# One round trip and one argument per batch: the client-side cost of a pipeline of thousands of
# small commands (packing each argument, parsing each reply) was a fifth of the ledger's time.
# The script only writes keys under ledger:, on the one Redis instance the local stack runs
# (Redis Cluster would need the keys in KEYS and in one slot).
WRITE_VIEWS_LUA = """
local update = cjson.decode(ARGV[1])
local keep = tonumber(ARGV[2])
for user, points in pairs(update.balances) do
  redis.call('HSET', KEYS[1], user, points)
  redis.call('ZADD', KEYS[2], points, user)
end
for _, board in ipairs(update.leaderboards) do
  for user, points in pairs(board[2]) do
    redis.call('ZADD', board[1], points, user)
  end
end
for _, recent in ipairs(update.recent) do
  local members = recent[2]
  for i = 1, #members, 2 do
    redis.call('ZADD', recent[1], members[i], members[i + 1])
  end
end
for _, key in ipairs(update.trim) do
  redis.call('ZREMRANGEBYRANK', key, 0, -keep - 1)
end
return 1
"""
VIEW_CHUNK = 20_000  # members per script call, so one call never blocks Redis for long (recovery)


async def erase_views(users: list[str]) -> None:
    """Erased users leave every ledger view: balance, leaderboards (all windows), recent entries."""
    if not users:
        return
    assert rt.redis is not None
    windows = [k async for k in rt.redis.scan_iter(match=view_key("lb", "*"), count=1000)]
    async with rt.redis.pipeline(transaction=False) as pipe:
        pipe.hdel(view_key("balance"), *users)
        for key in windows:
            pipe.zrem(key, *users)
        pipe.delete(*[view_key("entries", u) for u in users])
        await pipe.execute()


def _recent_member(created_at: str, entry_json: bytes) -> tuple[float, str]:
    """An entry in its user's recent-entry set: (score, member), the same live and in recovery,
    so that writing it again is a no-op."""
    return epoch(created_at), entry_json.decode()


def _view_update(balances: dict | None = None, leaderboards: list | None = None, recent: list | None = None,
                 trim: list | None = None) -> dict:
    """One call of WRITE_VIEWS_LUA: balances {user: points}, leaderboards [[key, {user: points}]],
    recent [[key, [score, entry JSON, ...]]], trim [key]."""
    return {"balances": balances or {}, "leaderboards": leaderboards or [], "recent": recent or [],
            "trim": trim or []}


def _chunks(update: dict) -> list[dict]:
    """Splits a batch's update into calls of about VIEW_CHUNK members (only a batch of more than
    a few thousand entries needs it; recovery builds its calls with all_views)."""
    size = len(update["balances"]) + sum(len(b[1]) for b in update["leaderboards"]) \
        + sum(len(r[1]) // 2 for r in update["recent"])
    if size <= VIEW_CHUNK:
        return [update]
    out: list[dict] = []
    balances = list(update["balances"].items())
    for i in range(0, len(balances), VIEW_CHUNK):
        out.append(_view_update(balances=dict(balances[i:i + VIEW_CHUNK])))
    for key, board in update["leaderboards"]:
        items = list(board.items())
        for i in range(0, len(items), VIEW_CHUNK):
            out.append(_view_update(leaderboards=[[key, dict(items[i:i + VIEW_CHUNK])]]))
    out.append(_view_update(recent=update["recent"], trim=update["trim"]))
    return out


worker = LedgerWorker()


@rt.app.task
async def _run_ledger() -> None:
    while True:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker gone, fenced, transaction failed: rebuild and go on
            event("ledger worker failed; recovering", error=repr(exc)[:300])
            await asyncio.sleep(1)


# ---------------------------------------------------------------- HTTP

async def balance_route(view, request, user_id: str) -> Any:
    assert rt.redis is not None
    raw = await rt.redis.hget(view_key("balance"), user_id)
    return json_response(view, {"user_id": user_id, "balance": int(raw) if raw is not None else 0,
                                "known": raw is not None})


def _limit(request, default: int, maximum: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValueError(f"must be an integer from 1 to {maximum}")
    return int(raw)


async def entries_route(view, request, user_id: str) -> Any:
    try:
        limit = _limit(request, 20, RECENT_ENTRIES)
    except ValueError as exc:
        return problem(view, 422, "Unprocessable Content", str(exc), field="limit")
    assert rt.redis is not None
    raws = await rt.redis.zrevrange(view_key("entries", user_id), 0, limit - 1)
    return json_response(view, {"user_id": user_id, "entries": [orjson.loads(r) for r in raws]})


async def leaderboard_route(view, request) -> Any:
    window = request.query.get("window", "all")
    if window not in WINDOWS:
        return problem(view, 422, "Unprocessable Content", f"must be one of {', '.join(WINDOWS)}", field="window")
    try:
        limit = _limit(request, 10, 100)
    except ValueError as exc:
        return problem(view, 422, "Unprocessable Content", str(exc), field="limit")
    key = view_key("lb", "all") if window == "all" else view_key("lb", window, current_window(window))
    assert rt.redis is not None
    rows = await rt.redis.zrevrange(key, 0, limit - 1, withscores=True)
    return json_response(view, {"window": window, "as_of": utc_now(), "leaders": [
        {"rank": i + 1, "user_id": u.decode(), "points": int(p)} for i, (u, p) in enumerate(rows)]})


rt.export_lag(GROUP_ID, INPUTS)
rt.route("/v1/users/{user_id:.+}/balance", balance_route, scope="read")  # ids may hold "/" (ingest allows it)
rt.route("/v1/users/{user_id:.+}/entries", entries_route, scope="read")
rt.route("/v1/leaderboard", leaderboard_route, scope=None if settings.public_leaderboard else "read")
rt.serve_openapi(ledger_document(WINDOWS, RECENT_ENTRIES))
app = rt.app
