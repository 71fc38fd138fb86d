"""Small aiokafka helpers shared by services and tools."""
from __future__ import annotations

from typing import AsyncIterator, Iterable, Mapping, Optional

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition


async def topic_partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of the topics (asks the broker for metadata when it is not known yet)."""
    out = []
    for topic in topics:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        out.extend(TopicPartition(topic, p) for p in sorted(parts))
    return out


async def read_until(bootstrap: str, topics: Iterable[str],
                     until: Optional[Mapping[TopicPartition, int]] = None,
                     batch: int = 5000) -> AsyncIterator[list[ConsumerRecord]]:
    """Reads the topics from the beginning up to `until` (default: the end offsets now), in
    batches of committed records; no consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", max_poll_records=batch)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, topics)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        limits = dict(until) if until is not None else await consumer.end_offsets(tps)
        pending = {tp for tp in tps if limits.get(tp, 0) > 0}
        for tp in tps:
            if tp not in pending:
                consumer.pause(tp)
        while pending:
            got = await consumer.getmany(timeout_ms=500, max_records=batch)
            out = []
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
