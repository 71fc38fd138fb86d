"""GroupLag against the real broker: the lag a consumer group has, per partition, after it
committed part of what is there (on a topic of its own, so nothing else moves the numbers)."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from services.core.kafka_io import GroupLag, total_group_lag
from services.core.settings import env


def test_group_lag_counts_what_the_group_has_not_committed(run_id: str) -> None:
    bootstrap = env("GOALPOST_KAFKA_BOOTSTRAP")
    topic, group = f"{run_id}.lag", f"{run_id}-group"

    async def go() -> tuple[dict, int, dict, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(5):
                await producer.send_and_wait(topic, b"x%d" % i, partition=0)
            for i in range(3):
                await producer.send_and_wait(topic, b"y%d" % i, partition=1)
        finally:
            await producer.stop()
        async with GroupLag(bootstrap, group, [topic]) as lag:
            before = await lag.per_partition()  # nothing committed yet: all of it
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
            await consumer.start()
            try:
                consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
                await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, ""),
                                       TopicPartition(topic, 1): OffsetAndMetadata(3, "")})
            finally:
                await consumer.stop()
            after = await lag.per_partition()  # the same probe, polled again
            return before, sum(before.values()), after, await total_group_lag(bootstrap, group, [topic])

    before, total_before, after, total_after = asyncio.run(go())
    assert before == {TopicPartition(topic, 0): 5, TopicPartition(topic, 1): 3}
    assert total_before == 8
    assert after == {TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 0}
    assert total_after == 3
