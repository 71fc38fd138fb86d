"""The ledger's exactly-once consume-transform-produce loop (Kafka transactions).

Each batch's entries, balances, dead letters and the consumed input offsets commit in one
transaction of a producer with a fixed transactional id, so a restarted (or zombie) worker is
fenced and a crash either commits the whole batch or none of it. Redis views are written after
each commit with absolute values and idempotent members; recovery (recovery.py) repairs a crash
between the two.
"""
from __future__ import annotations

import asyncio
import time
from typing import Optional

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.core import metrics as core_metrics
from services.core.kafka_io import send_many, topic_partitions
from services.core.runtime import Runtime, event
from services.ledger.batch import BatchStep, PreparedBatch, fetched_offsets
from services.ledger.metrics import APPLY_SECONDS, BURNED, CACHED, ENTRIES, MINTED, PARKED, RINGS
from services.ledger.recovery import Checkpoints, recover
from services.ledger.rule_table import RuleTable
from services.ledger.store import StateStore
from services.ledger.topics import GROUP_ID, INPUTS, JOURNAL, TRANSACTIONAL_ID
from services.ledger.views import RedisViews


class LedgerWorker:
    """The one transactional worker of the ledger. Batch N+1 is computed while N's transaction
    and N-1's Redis write are in flight, one of each at a time, so views are written in commit
    order."""

    def __init__(self, rt: Runtime, rules: RuleTable) -> None:
        self.rt = rt
        self.step = BatchStep(rules)
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
                event("ledger worker failed; recovering", error=repr(exc)[:300])
                await asyncio.sleep(1)

    async def run(self) -> None:
        s = self.rt.settings
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
        store = StateStore(s.ledger_store, s.ledger_cache_items)
        watermarks = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
        checkpoints = self.checkpoints = Checkpoints(store, self.step, watermarks)
        await consumer.start()
        # The producer starts (InitProducerId) before the committed offsets are read: the broker
        # completes a predecessor's transaction first, so its offsets are not read stale.
        await producer.start()
        await watermarks.start()
        try:
            tps = await topic_partitions(consumer, INPUTS)
            consumer.assign(tps)
            committed = {}
            for tp in tps:
                committed[tp] = (await consumer.committed(tp)) or 0
                consumer.seek(tp, committed[tp])
            await self.views_written()
            await recover(self.step, checkpoints, self.redis_views, s.kafka_bootstrap, committed)
            self.rt.state_recovered.set()
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
        finally:
            self.rt.state_recovered.clear()
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
            await producer.send_offsets_to_transaction(batch.offsets, GROUP_ID)
        for reason, count in batch.reasons.items():
            ENTRIES.labels(reason).inc(count)
        MINTED.inc(batch.minted)
        BURNED.inc(batch.burned)
        for d in batch.dead:
            core_metrics.DLQ.labels("ledger", d.topic_name).inc()
        core_metrics.MESSAGES_IN.labels("ledger", "inputs").inc(batch.inputs)
        core_metrics.MESSAGES_OUT.labels("ledger", JOURNAL).inc(len(batch.encoded))
        PARKED.set(self.step.state.pending_count)
        APPLY_SECONDS.observe(time.perf_counter() - batch.started)
        await self.views_written()
        self.views_in_flight = asyncio.create_task(self.redis_views.write(batch.views))
        if batch.erased:
            await self.views_written()
            await self.redis_views.erase(batch.erased)

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
