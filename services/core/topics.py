"""Creates the contract topics (services/core/contracts.py TOPICS) on the broker."""
from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.core.contracts import TOPICS


def all_topic_names() -> list[str]:
    return list(TOPICS)


def topic_configs(name: str) -> dict[str, str]:
    if TOPICS[name].compacted:
        return {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
    if name == "ledger.entries.v1":
        return {"retention.ms": "-1"}  # the journal is the ledger's source of truth: kept forever
    return {"retention.ms": str(7 * 24 * 3600 * 1000)}


async def ensure_topics(bootstrap: str, partitions: int) -> list[str]:
    """Creates every missing contract topic; returns the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in TOPICS if n not in existing]
        if missing:
            await admin.create_topics([
                NewTopic(name=n, num_partitions=partitions, replication_factor=1,
                         topic_configs=topic_configs(n)) for n in missing])
        return missing
    finally:
        await admin.close()
