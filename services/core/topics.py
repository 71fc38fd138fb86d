"""Creates the contract topics (services/core/contracts.py TOPICS) on the broker."""
from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.core.contracts import TOPICS


def all_topic_names() -> list[str]:
    return list(TOPICS)


# Retention: Kafka is the source of truth. The validated streams are kept forever because the
# match index and the ledger's rules' memory are rebuilt from them at start; raw input and dead
# letters are transient (a week and a month). ledger.balances.v1 is compacted (latest per user).
TRANSIENT_RETENTION_MS = {"posts.raw.v1": 7 * 86400_000, "reactions.raw.v1": 7 * 86400_000,
                          "dlq.v1": 30 * 86400_000}


def topic_configs(name: str) -> dict[str, str]:
    if TOPICS[name].compacted:
        return {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
    return {"retention.ms": str(TRANSIENT_RETENTION_MS.get(name, -1))}


async def ensure_topics(bootstrap: str, partitions: int, replication: int = 1) -> list[str]:
    """Creates every missing contract topic; returns the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in TOPICS if n not in existing]
        if missing:
            response = await admin.create_topics([
                NewTopic(name=n, num_partitions=partitions, replication_factor=replication,
                         topic_configs=topic_configs(n)) for n in missing])
            # The broker answers per topic; a refusal must not pass for success.
            errors = [(t[0], t[1], t[2] if len(t) > 2 else "") for t in response.topic_errors if t[1] not in (0, 36)]
            if errors:
                raise RuntimeError(f"topic creation refused: {errors}")
        return missing
    finally:
        await admin.close()
