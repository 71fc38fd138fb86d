"""The partitioner used for batched sends must agree with Kafka's default one."""
from aiokafka.partitioner import DefaultPartitioner

from services.core.kafka_io import partition_for


def test_partition_for_matches_the_default_partitioner():
    default = DefaultPartitioner()
    for n in (1, 3, 8):
        parts = list(range(n))
        for i in range(500):
            key = f"user-{i}".encode()
            assert partition_for(key, n) == default(key, parts, parts)


def test_partition_for_spreads_keys():
    used = {partition_for(f"k{i}".encode(), 3) for i in range(100)}
    assert used == {0, 1, 2}
