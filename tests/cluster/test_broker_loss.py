"""A KRaft cluster of three brokers (`goalpost stack up --brokers 3`): every topic is replicated
three times with min.insync 2, and a broker killed with SIGKILL under load loses nothing that
was acknowledged. While leadership moves, ingest answers 503 with Retry-After, never another
5xx; every acknowledged post is classified, the ledger journals no entry twice and verifies,
and the services recover without a restart."""
import asyncio
import os
import signal
import time

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.core.contracts import TOPICS
from services.core.settings import env
from services.tools import stack
from tests.cluster.load import PacedWriter, assert_recovered_without_restart
from tests.integration.conftest import wait_for


def describe() -> tuple[list[dict], dict[str, str]]:
    async def go():
        client = AIOKafkaAdminClient(bootstrap_servers=env("GOALPOST_KAFKA_BOOTSTRAP"))
        await client.start()
        try:
            topics = await client.describe_topics(list(TOPICS))
            min_isr = {}
            for topic in TOPICS:
                (response,) = await client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
                min_isr[topic] = {entry[0]: entry[1] for entry in response.resources[0][4]}["min.insync.replicas"]
        finally:
            await client.close()
        return topics, min_isr
    return asyncio.run(go())


def test_every_topic_has_three_replicas_and_min_insync_two():
    assert stack.brokers() == 3, "run against `goalpost stack up --brokers 3`"
    topics, min_isr = describe()
    assert {t["topic"] for t in topics} == set(TOPICS)
    for t in topics:
        assert all(len(p["replicas"]) == 3 for p in t["partitions"]), t["topic"]
    assert set(min_isr.values()) == {"2"} and set(min_isr) == set(TOPICS)


def test_a_broker_killed_under_load_loses_no_acknowledged_post(http, run_id):
    writer = PacedWriter(http, f"{run_id}:broker", "How do I keep a sourdough starter alive")

    writer.start()
    try:
        time.sleep(5)
        victim = "kafka-2"
        os.killpg(stack._pid(victim), signal.SIGKILL)
        wait_for(lambda: stack._pid(victim) is None, timeout=10, what="the broker to die")
        time.sleep(10)  # load goes on against two brokers
        stack.start_kafka()  # the killed broker comes back and catches up
        time.sleep(5)
    finally:
        writer.stop()
    writer.check_answers()
    writer.all_classified()
    assert_recovered_without_restart()
