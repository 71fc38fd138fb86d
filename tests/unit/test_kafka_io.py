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


def test_a_group_lag_whose_start_failed_holds_no_client_and_can_start_again():
    """The services' lag pollers retry start() while the broker is away: a failed start must
    close what it opened and leave nothing half-started for the next try."""
    import asyncio

    from aiokafka.errors import KafkaConnectionError

    from services.core.kafka_io import GroupLag

    async def go():
        lag = GroupLag("127.0.0.1:1", "group", ["topic"])  # nothing listens there
        failures = []
        for _ in range(2):
            try:
                await lag.start()
            except KafkaConnectionError as exc:
                failures.append(exc)
            assert lag.consumer is None and lag.admin is None
        await lag.stop()
        return failures

    assert len(asyncio.run(go())) == 2
