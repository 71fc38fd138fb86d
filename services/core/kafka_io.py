"""Small aiokafka helpers shared by services and tools."""
from __future__ import annotations

import asyncio
import itertools
from functools import lru_cache
from typing import Any, AsyncIterator, Iterable, Mapping, Optional

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.partitioner import murmur2

# Below this many records, producer.send is as cheap, and it shares the open batch with
# concurrent senders (send_batch would queue behind another sender's batch of that partition).
MANY = 32
_spread = itertools.count()  # round robin for records without a key


@lru_cache(maxsize=65536)  # keys repeat (user ids): murmur2 is pure Python, ~5 µs a key
def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key, made positive, modulo the partition
    count), so records sent here land where Java and aiokafka producers put the same key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def send_many(producer: AIOKafkaProducer, records: Iterable[tuple[str, Optional[bytes], Optional[bytes]]]
                    ) -> list[asyncio.Future]:
    """Sends (topic, key, value) records, appending them to one record batch per partition
    instead of going through producer.send once each (its per-message bookkeeping is a fifth
    of the ledger's time). Keyed order is kept: one key, one partition, records in the order
    given. Inside a transaction the batches join it. Returns futures that resolve when the
    broker has acknowledged each batch."""
    records = list(records)
    if len(records) < MANY:
        return [await producer.send(topic, value, key=key) for topic, key, value in records]
    counts: dict[str, int] = {}
    builders: dict[tuple[str, int], Any] = {}
    futures = []
    for topic, key, value in records:
        n = counts.get(topic)
        if n is None:
            await producer.client._wait_on_metadata(topic)
            n = counts[topic] = len(producer.client.cluster.partitions_for_topic(topic))
        p = partition_for(key, n) if key is not None else next(_spread) % n
        builder = builders.get((topic, p))
        if builder is None:
            builder = builders[(topic, p)] = producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None) is None:  # full: ship it, start another
            futures.append(await producer.send_batch(builder, topic, partition=p))
            builder = builders[(topic, p)] = producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None) is None:
                raise ValueError(f"record of {len(value or b'')} bytes is larger than the producer's batch size")
    for (topic, p), builder in builders.items():
        futures.append(await producer.send_batch(builder, topic, partition=p))
    return futures


async def topic_partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of the topics (asks the broker for metadata when it is not known yet)."""
    out: list[TopicPartition] = []
    for topic in topics:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        out.extend(TopicPartition(topic, p) for p in sorted(parts))
    return out


class GroupLag:
    """A consumer group's lag (log end offset minus committed offset, per partition), polled
    over connections that stay open: two requests a poll, the group's committed offsets in one
    (OffsetFetch for all its partitions) and the end offsets in another. A fresh consumer per
    poll (connections, metadata, the coordinator lookup, one OffsetFetch per partition) costs the
    broker 12-15 ms of CPU and the poller ~10 ms, against 1.5 and 1 here (bench_lag_probe): a
    benchmark polling every 50 ms would take over a third of a core from the stack it measures."""

    def __init__(self, bootstrap: str, group_id: str, topics: Iterable[str]) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.topics = list(topics)
        self.consumer: Optional[AIOKafkaConsumer] = None
        self.admin: Optional[AIOKafkaAdminClient] = None
        self.partitions: list[TopicPartition] = []
        self._coordinator: Optional[int] = None

    async def start(self) -> None:
        """Both clients, or neither: a start that failed (broker away) can be tried again."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            await consumer.start()
            await admin.start()
        except BaseException:
            await admin.close()
            await consumer.stop()
            raise
        self.consumer, self.admin = consumer, admin

    async def stop(self) -> None:
        if self.admin is not None:
            await self.admin.close()
        if self.consumer is not None:
            await self.consumer.stop()
        self.consumer = self.admin = None

    async def __aenter__(self) -> "GroupLag":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def committed(self) -> dict[TopicPartition, int]:
        """The group's committed offset of each partition it has committed on."""
        assert self.consumer is not None and self.admin is not None, "start() first"
        self.partitions = self.partitions or await topic_partitions(self.consumer, self.topics)
        if self._coordinator is None:
            self._coordinator = await self.admin.find_coordinator(self.group_id)
        try:
            found = await self.admin.list_consumer_group_offsets(self.group_id, self._coordinator,
                                                                 self.partitions)
        except Exception:
            self._coordinator = None  # it may have moved: look it up again next time
            raise
        # absent or -1: the group has committed nothing there
        return {tp: meta.offset for tp, meta in found.items() if meta is not None and meta.offset > 0}

    async def per_partition(self) -> dict[TopicPartition, int]:
        committed = await self.committed()
        end = await self.consumer.end_offsets(self.partitions)  # type: ignore[union-attr]
        return {tp: max(0, end[tp] - committed.get(tp, 0)) for tp in self.partitions}

    async def delete_consumed(self) -> int:
        """Deletes the records the group has consumed and committed (DeleteRecords): for input
        that must not outlive its processing. Returns the partitions truncated."""
        assert self.admin is not None, "start() first"
        done = await self.committed()
        if done:
            await self.admin.delete_records({tp: RecordsToDelete(before_offset=o) for tp, o in done.items()})
        return len(done)

    async def total(self) -> int:
        return sum((await self.per_partition()).values())


async def total_group_lag(bootstrap: str, group_id: str, topics: Iterable[str]) -> int:
    """Messages of the topics a consumer group has not committed yet (a one-off check)."""
    async with GroupLag(bootstrap, group_id, topics) as lag:
        return await lag.total()


async def read_until(bootstrap: str, topics: Iterable[str],
                     until: Optional[Mapping[TopicPartition, int]] = None,
                     batch: int = 5000,
                     start: Optional[Mapping[TopicPartition, int]] = None) -> AsyncIterator[list[ConsumerRecord]]:
    """Reads the topics from `start` (default: the beginning) up to `until` (default: the end
    offsets now), in batches of committed records; no consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", max_poll_records=batch)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, topics)
        consumer.assign(tps)
        begin = dict(start or {})
        for tp in tps:
            if begin.get(tp):
                consumer.seek(tp, begin[tp])
        from_beginning = [tp for tp in tps if not begin.get(tp)]
        if from_beginning:
            await consumer.seek_to_beginning(*from_beginning)
        limits = dict(until) if until is not None else await consumer.end_offsets(tps)
        pending = {tp for tp in tps if limits.get(tp, 0) > begin.get(tp, 0)}
        for tp in tps:
            if tp not in pending:
                consumer.pause(tp)
        while pending:
            got = await consumer.getmany(timeout_ms=500, max_records=batch)
            out: list[Any] = []
            for tp, msgs in got.items():
                out.extend(m for m in msgs if m.offset < limits[tp])
            if out:
                yield out
            for tp in list(pending):
                if await consumer.position(tp) >= limits[tp]:
                    pending.discard(tp)
                    consumer.pause(tp)
    finally:
        await consumer.stop()
