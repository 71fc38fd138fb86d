"""The ledger's exactly-once consume-transform-produce loop (Kafka transactions), run by each
of its stages (stages.py): the resolver (credits out) and the workers (journal entries out).

Each batch's output records, dead letters and the consumed input offsets commit in one
transaction of a producer with a fixed transactional id per stage and worker, so a restarted
(or zombie) worker is fenced and a crash either commits the whole batch or none of it. A
worker owns a fixed share of the credit partitions (p % N == its number). Redis views are
written after each commit with absolute values and idempotent members; recovery
(recovery.py) repairs a crash between the two. Balances and window totals live in the stage's
store with the rules' memory, so a worker's memory does not grow with its users.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Optional

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.core import metrics as core_metrics
from services.core.kafka_io import send_many, topic_partitions
from services.core.runtime import Runtime, event
from services.ledger.batch import BatchStep, PreparedBatch, fetched_offsets
from services.ledger.metrics import APPLY_SECONDS, BURNED, CACHED, ENTRIES, MINTED, PARKED, RINGS
from services.ledger.recovery import Checkpoints, recover
from services.ledger.rule_table import RuleTable
from services.ledger.stages import ONE_STAGE, Stage, owns
from services.ledger.store import StateStore
from services.ledger.topics import JOURNAL
from services.ledger.views import RedisViews


class LedgerWorker:
    """One transactional loop of the ledger: a stage, or a worker's share of one. Batch N+1 is
    computed while N's transaction and N-1's Redis write are in flight, one of each at a time,
    so views are written in commit order. `recovered` is set while its state is recovered
    (default: the runtime's readiness)."""

    def __init__(self, rt: Runtime, rules: RuleTable, stage: Stage = ONE_STAGE,
                 recovered: Optional[asyncio.Event] = None) -> None:
        self.rt = rt
        self.stage = stage
        self.recovered = recovered if recovered is not None else rt.state_recovered
        self.step = BatchStep(rules, stage)
        self.checkpoints: Optional[Checkpoints] = None  # while run() runs: its store is open
        self.views_in_flight: Optional[asyncio.Task] = None
        self.commit_in_flight: Optional[asyncio.Task] = None
        self._redis_views: Optional[RedisViews] = None

    @property
    def redis_views(self) -> RedisViews:
        if self._redis_views is None:  # the runtime's Redis client exists once its resources started
            assert self.rt.redis is not None
            self._redis_views = RedisViews(self.rt.redis)
        return self._redis_views

    async def run_forever(self) -> None:
        """The service's task: a failed run (broker gone, fenced, transaction failed) recovers."""
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                event("ledger worker failed; recovering", stage=self.stage.name, error=repr(exc)[:300])
                await asyncio.sleep(1)

    async def run(self) -> None:
        s = self.rt.settings
        stage = self.stage
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=stage.group_id,
                                    enable_auto_commit=False, isolation_level="read_committed",
                                    auto_offset_reset="earliest", max_poll_records=s.ledger_batch)
        # Record batches of up to 512 KiB: a batch's entries then go in one request per partition.
        # At the default 16 KiB each partition takes ~6 requests in turn (a partition has one batch
        # in flight), and the transaction's commit waits for them.
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, transactional_id=stage.transactional_id,
                                    enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=1 << 19)
        # Opened afresh on every run: values applied after the last checkpoint are dropped with
        # the old connection, and recovery re-applies them from Kafka.
        store = StateStore(store_path(s.ledger_store, stage), s.ledger_cache_items)
        watermarks = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
        checkpoints = self.checkpoints = Checkpoints(store, self.step, watermarks, self.views_written)
        await consumer.start()
        # The producer starts (InitProducerId) before the committed offsets are read: the broker
        # completes a predecessor's transaction first, so its offsets are not read stale.
        await producer.start()
        await watermarks.start()
        try:
            tps = [tp for tp in await topic_partitions(consumer, stage.inputs) if owns(stage, tp.partition)]
            if stage.share is not None:  # its journal partitions must be its credit partitions
                journal = await topic_partitions(consumer, [JOURNAL])
                if len(journal) != len(await topic_partitions(consumer, stage.inputs)):
                    raise RuntimeError(f"{JOURNAL} and {list(stage.inputs)} need as many partitions each")
            consumer.assign(tps)
            committed = {}
            for tp in tps:
                committed[tp] = (await consumer.committed(tp)) or 0
                consumer.seek(tp, committed[tp])
            await self.views_written()
            await recover(self.step, checkpoints, self.redis_views, s.kafka_bootstrap, committed)
            self.recovered.set()
            while True:
                got = await consumer.getmany(timeout_ms=200, max_records=s.ledger_batch)
                msgs = [m for batch in got.values() for m in batch]
                if checkpoints.finished():
                    await checkpoints.written()  # its values may be evicted now
                if msgs:
                    if checkpoints.due():
                        await checkpoints.take(self.commit_in_flight)  # written once the batch in flight commits
                    batch = await self.prepare(msgs, got)
                    # Batch N+1 is computed while N commits; one transaction at a time. If N
                    # fails, the exception surfaces here and recovery discards both.
                    await self.committed()
                    self.commit_in_flight = asyncio.create_task(self.commit(producer, batch))
                elif self.commit_in_flight is not None and self.commit_in_flight.done():
                    await self.committed()
                elif self.views_in_flight is not None and self.views_in_flight.done():
                    await self.views_written()  # a failed write surfaces here and the worker recovers
                elif self.commit_in_flight is None and checkpoints.due():
                    await checkpoints.take(None)  # idle: the next start replays nothing
                elif self.commit_in_flight is None:
                    await self.commit_markers(producer, consumer, tps)
        finally:
            self.recovered.clear()
            # (a checkpoint still waiting for its transaction is not written: the store closes)
            for task in (self.commit_in_flight, self.views_in_flight):
                if task is not None:
                    task.cancel()
            self.commit_in_flight = self.views_in_flight = None
            checkpoints.cancel()
            store.close()  # waits for a checkpoint being written
            await watermarks.stop()
            await consumer.stop()
            await producer.stop()

    async def prepare(self, msgs: list, got: dict) -> PreparedBatch:
        """The batch step on a fetch (`got`: the consumer's getmany() result), with its metrics."""
        batch = await self.step.prepare(msgs, fetched_offsets(got))
        for ring in batch.flagged:
            RINGS.inc()
            event("reward ring flagged", members=ring.get("members"))
        store = self.step.state.store
        CACHED.set(sum(m.cached for m in store.maps.values()) if store else 0)
        return batch

    async def commit(self, producer: AIOKafkaProducer, batch: PreparedBatch) -> None:
        async with producer.transaction():
            await send_many(producer, batch.out)
            await producer.send_offsets_to_transaction(batch.offsets, self.stage.group_id)
        for reason, count in batch.reasons.items():
            ENTRIES.labels(reason).inc(count)
        MINTED.inc(batch.minted)
        BURNED.inc(batch.burned)
        for d in batch.dead:
            core_metrics.DLQ.labels("ledger", d.topic_name).inc()
        core_metrics.MESSAGES_IN.labels("ledger", "inputs").inc(batch.inputs)
        core_metrics.MESSAGES_OUT.labels("ledger", JOURNAL).inc(len(batch.encoded))
        if not self.stage.journal:
            PARKED.set(self.step.state.pending_count)
        APPLY_SECONDS.observe(time.perf_counter() - batch.started)
        if batch.views is None:
            return
        await self.views_written()
        self.views_in_flight = asyncio.create_task(self.redis_views.write(batch.views))
        if batch.erased:
            await self.views_written()
            await self.redis_views.erase(batch.erased)

    async def commit_markers(self, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer,
                             tps: list[TopicPartition]) -> None:
        """Idle: commits the offsets past the transaction markers that end a transactional
        input (the credits), so that the group's lag reaches 0 and the next start replays
        nothing. A batch's offsets stop at its last record, before the marker."""
        moved = {}
        for tp in tps:
            position = await consumer.position(tp)
            if position > self.step.applied.get(tp, position):
                moved[tp] = position
        if moved:
            async with producer.transaction():
                await producer.send_offsets_to_transaction(moved, self.stage.group_id)
            self.step.applied.update(moved)

    async def committed(self) -> None:
        """Waits for the transaction in flight; raises if it failed."""
        task, self.commit_in_flight = self.commit_in_flight, None
        if task is not None:
            await task

    async def views_written(self) -> None:
        """Waits for the Redis write in flight; raises if it failed (the caller recovers, and
        recovery writes again the views of every entry since the last checkpoint that saw
        Redis hold them all)."""
        task, self.views_in_flight = self.views_in_flight, None
        if task is not None:
            await task


def store_path(base: Path, stage: Stage) -> Path:
    """The store file of a stage: GOALPOST_LEDGER_STORE itself for the one-stage ledger, else
    beside it with the stage's name (ledger-rules-resolver.sqlite, ledger-rules-worker-1.sqlite)."""
    if stage is ONE_STAGE:
        return base
    return base.with_name(f"{base.stem}-{stage.name}{base.suffix}")
