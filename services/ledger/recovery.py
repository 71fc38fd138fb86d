"""Checkpoints of the rules' memory and the live views (both in the stage's store) with the input
offsets they reflect, and the journal offsets up to which Redis is known to hold every view; and
the recovery that starts from one: re-apply the inputs after it up to the offsets committed in
Kafka, then write to Redis again the views of every user with entries in the journal after it."""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Optional

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.core.contracts import utc_day
from services.core.kafka_io import read_until, topic_partitions
from services.core.runtime import event, settle_heap
from services.ledger.batch import BatchStep
from services.ledger.metrics import CHECKPOINT_SECONDS, RECOVERIES, REPLAYED
from services.ledger.stages import owns
from services.ledger.store import FORMAT, StateStore, TakenCheckpoint, checkpoint_problem, pack_offsets, unpack_offsets
from services.ledger.topics import JOURNAL
from services.ledger.views import RedisViews, recent_member, view_key

CHECKPOINT_EVERY_S = 30.0  # at most this much input is re-applied after a crash


def _plain(offsets: dict[TopicPartition, int]) -> dict[tuple[str, int], int]:
    return {(tp.topic, tp.partition): o for tp, o in offsets.items()}


def _partitions(offsets: dict[tuple[str, int], int]) -> dict[TopicPartition, int]:
    return {TopicPartition(topic, p): o for (topic, p), o in offsets.items()}


class Checkpoints:
    """The checkpoints of one run of the worker, into its store. `watermarks` reads the
    journal's high watermarks: not the last stable offsets of a read_committed consumer, which
    right after a commit may still stand before the batch just committed (its markers not
    written yet). With no transaction open (ours is the only producer of the journal and fenced
    its predecessors at start), the high watermark is past every committed entry.
    `views_written` waits for the worker's Redis write in flight."""

    def __init__(self, store: StateStore, step: BatchStep, watermarks: AIOKafkaConsumer,
                 views_written: Callable[[], Awaitable[None]]) -> None:
        self.store = store
        self.step = step
        self.watermarks = watermarks
        self.views_written = views_written
        self.journal_tps: list[TopicPartition] = []
        self.last = 0.0
        self.last_views = 0.0
        self.in_flight: Optional[asyncio.Future] = None  # written by the store's thread

    def due(self) -> bool:
        if self.in_flight is not None and not self.in_flight.done():
            return False  # the thread is still writing the last one: do not wait for it
        store = self.store
        return store.dirty > 0 and (time.monotonic() - self.last >= CHECKPOINT_EVERY_S
                                    or store.dirty >= store.capacity)

    def finished(self) -> bool:
        """A checkpoint was being written and is done (or failed): written() will not wait."""
        return self.in_flight is not None and self.in_flight.done()

    async def take(self, commit: Optional[asyncio.Task], journal_end: Optional[dict] = None,
                   wait: bool = False) -> None:
        """Takes the rules' memory and the views with the input offsets they reflect and, given
        `journal_end` or every CHECKPOINT_EVERY_S, the journal offsets up to which Redis holds
        every view (where the next recovery starts rewriting views). The values are taken now,
        between batches; the store's thread writes them once `commit`, the transaction in
        flight, has committed, so a checkpoint never holds anything beyond Kafka (waiting for
        the commit before taking them stalled the pipeline)."""
        await self.written()
        now = time.monotonic()
        step = self.step
        parts = {"format": FORMAT.encode(), "state": step.state.small_parts(),
                 "views": step.views.small_parts(), "inputs": pack_offsets(_plain(step.applied))}
        if journal_end is None and now - self.last_views >= CHECKPOINT_EVERY_S:
            # The journal's high watermark is its committed end only while no transaction is
            # open; and every committed batch's views are in Redis once the write in flight is.
            if commit is not None:
                await commit
            await self.views_written()
            journal_end = await self.watermarks.end_offsets(self.journal_tps) if self.journal_tps else {}
        if journal_end is not None:
            parts.update(journal=pack_offsets(_plain(journal_end)))
            self.last_views = now
        taken = self.store.take_checkpoint(parts)
        writing = asyncio.ensure_future(self._write(taken, commit))
        # its failure is raised by written(), or by the failed commit's own await first
        writing.add_done_callback(lambda task: task.cancelled() or task.exception())
        self.in_flight = writing
        self.last = now
        if wait:
            await self.written()

    async def _write(self, taken: TakenCheckpoint, commit: Optional[asyncio.Task]) -> None:
        if commit is not None:
            await asyncio.shield(commit)  # a failed transaction raises here: nothing is written
        started = time.perf_counter()
        await asyncio.wrap_future(self.store.write_checkpoint(taken))
        CHECKPOINT_SECONDS.observe(time.perf_counter() - started)

    async def written(self) -> None:
        """Waits for the checkpoint being written; raises if it failed."""
        writing, self.in_flight = self.in_flight, None
        if writing is not None:
            try:
                await writing
            finally:
                self.store.finish_checkpoint()

    def cancel(self) -> None:
        """Drops a checkpoint still waiting for its transaction (the store is closing)."""
        if self.in_flight is not None:
            self.in_flight.cancel()
        self.in_flight = None


async def recover(step: BatchStep, checkpoints: Checkpoints, views_out: RedisViews, bootstrap: str,
                  committed: dict[TopicPartition, int]) -> None:
    """Brings `step` to the committed input offsets and every Redis view to the journal, from
    the store's checkpoint if it is complete and not ahead of Kafka, or else from the beginning."""
    RECOVERIES.inc()
    started = time.perf_counter()
    store, watermarks, stage = checkpoints.store, checkpoints.watermarks, step.stage
    # a worker's journal partitions are its credit partitions (both keyed by user, as many of each)
    checkpoints.journal_tps = [tp for tp in await topic_partitions(watermarks, [JOURNAL]) if owns(stage, tp.partition)] \
        if stage.journal else []
    journal_end = await watermarks.end_offsets(checkpoints.journal_tps) if checkpoints.journal_tps else {}
    meta = store.meta()
    problem = checkpoint_problem(meta, _plain(committed), _plain(journal_end))
    if problem is None:
        try:
            step.reset(stage.restore(store, meta["state"]), meta["views"])
        except ValueError as exc:  # another state schema
            problem = str(exc)
    if problem is None:
        inputs_from, journal_from = (_partitions(unpack_offsets(meta[p])) for p in ("inputs", "journal"))
        step.applied = dict(inputs_from)
    else:
        event("ledger rebuilding its rules' memory from the topics", why=problem)
        store.wipe()
        step.reset(stage.new_state(store))
        inputs_from, journal_from = {}, {}
        await checkpoints.take(None, {}, wait=True)  # a complete starting point: later ones may be partial
    n = 0
    async for batch in read_until(bootstrap, stage.inputs, committed, start=inputs_from):
        step.reapply(batch)
        n += len(batch)
        if store.dirty >= store.capacity:  # a long replay keeps its memory bounded too
            store.checkpoint({"state": step.state.small_parts(), "views": step.views.small_parts(),
                              "inputs": pack_offsets(_plain(step.applied))})
    REPLAYED.inc(n)
    step.applied = dict(committed)  # the committed offsets may sit past a transaction marker
    users = await rewrite_views(step, views_out, bootstrap, journal_from, journal_end)
    if stage.journal:
        await views_out.erase(sorted(step.state.erased))
    await checkpoints.take(None, journal_end)
    # The rebuilt state is long-lived dicts and strings: keep the collector from walking it
    # again on every full pass (those passes are a tenth of the ledger's time).
    # Young collections every 100,000 allocations, not 20,000: a batch holds large young
    # containers (the dirty-key sets, its entries and records) that each young pass walks.
    # At 20,000, a 50,000-entry benchmark run takes ~10 of them at 10-29 ms each (~5% of
    # the run, timed with gc.callbacks); at 100,000, one in three runs.
    settle_heap(first_generation=100_000)
    event("ledger recovered", stage=stage.name, replayed_inputs=n, from_checkpoint=problem is None,
          views_rewritten=users, seconds=round(time.perf_counter() - started, 2))


async def rewrite_views(step: BatchStep, views_out: RedisViews, bootstrap: str,
                        journal_from: dict[TopicPartition, int], journal_end: dict[TopicPartition, int]) -> int:
    """Writes again the views of the users with entries in the journal after `journal_from`
    (the ones whose Redis write a crash may have lost), from the recovered views, with the
    same recent-entry members as the live write's; one call per journal batch, so memory stays
    bounded even from the beginning of the journal. Returns how many users' views it wrote
    (a user in many batches counts in each)."""
    erased = step.state.erased
    n = 0
    async for batch in read_until(bootstrap, [JOURNAL], journal_end, start=journal_from):
        by_day: dict[str, set[str]] = {}
        recent: dict[str, list] = {}
        for msg in batch:
            entry = orjson.loads(msg.value)
            user = entry["user_id"]
            if user in erased:
                continue
            by_day.setdefault(utc_day(entry["created_at"]), set()).add(user)
            recent.setdefault(user, []).extend(recent_member(entry["created_at"], msg.value))
        step.views.prefetch(recent)
        # (trimmed in the same call: after a rebuild from the beginning of the journal, a trim
        # of every user left for the first live batch would be one huge call)
        await views_out.write(step.views.update(by_day, recent, [view_key("entries", u) for u in recent]))
        n += len(recent)
        step.state.evict()
    return n
