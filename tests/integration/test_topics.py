"""Topic creation settings on the real broker (single node: replication 1)."""
import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.core.contracts import TOPICS
from services.core.settings import env
from services.core.topics import ensure_topics


def test_existing_topics_with_fewer_replicas_are_reported_not_recreated():
    report = asyncio.run(ensure_topics(env("GOALPOST_KAFKA_BOOTSTRAP"), 4, replication=3, min_insync=2))
    assert report.created == []                       # all exist: nothing recreated
    assert report.under_replicated == {name: 1 for name in TOPICS}
    same = asyncio.run(ensure_topics(env("GOALPOST_KAFKA_BOOTSTRAP"), 4, replication=1, min_insync=1))
    assert same.created == [] and same.under_replicated == {}


def test_topics_carry_their_min_insync_replicas():
    async def describe() -> dict:
        admin = AIOKafkaAdminClient(bootstrap_servers=env("GOALPOST_KAFKA_BOOTSTRAP"))
        await admin.start()
        try:
            (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "posts.v1")])
            return {entry[0]: entry[1] for entry in response.resources[0][4]}
        finally:
            await admin.close()
    assert asyncio.run(describe())["min.insync.replicas"] == env("GOALPOST_TOPIC_MIN_INSYNC")


def test_min_insync_above_the_replication_is_refused():
    with pytest.raises(ValueError, match="min.insync.replicas"):
        asyncio.run(ensure_topics(env("GOALPOST_KAFKA_BOOTSTRAP"), 4, replication=1, min_insync=2))
