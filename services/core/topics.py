"""Creates the contract topics (services/core/contracts.py TOPICS) on the broker."""
from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.core.contracts import TOPICS


def all_topic_names() -> list[str]:
    return list(TOPICS)


# Retention: Kafka is the source of truth. The validated streams are kept forever because the
# match index and the ledger's rules' memory are rebuilt from them at start; raw input,
# notifications and dead letters are transient (a week, a week, a month). ledger.balances.v1 is
# compacted (latest per user).
TRANSIENT_RETENTION_MS = {"posts.raw.v1": 7 * 86400_000, "reactions.raw.v1": 7 * 86400_000,
                          "notifications.v1": 7 * 86400_000, "dlq.v1": 30 * 86400_000}


def topic_configs(name: str, min_insync: int = 1) -> dict[str, str]:
    configs = {"min.insync.replicas": str(min_insync)}
    if TOPICS[name].compacted:
        configs.update({"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"})
    else:
        configs["retention.ms"] = str(TRANSIENT_RETENTION_MS.get(name, -1))
    return configs


def under_replicated(described: list[dict], replication: int) -> dict[str, int]:
    """{topic: its smallest replica count} of the described topics with fewer than
    `replication` replicas on some partition (from the admin client's describe_topics)."""
    out = {}
    for topic in described:
        counts = [len(p.get("replicas", ())) for p in topic.get("partitions", ())]
        if counts and min(counts) < replication:
            out[topic["topic"]] = min(counts)
    return out


@dataclass(frozen=True)
class TopicsReport:
    created: list[str]
    under_replicated: dict[str, int]  # existing topics with fewer replicas than asked: kept, reported


async def ensure_topics(bootstrap: str, partitions: int, replication: int = 1, min_insync: int = 1) -> TopicsReport:
    """Creates every missing contract topic with `replication` copies and `min_insync` in-sync
    replicas; existing topics are left as they are, and those with fewer copies reported."""
    if not 1 <= min_insync <= replication:
        raise ValueError(f"min.insync.replicas {min_insync} must be between 1 and the replication factor {replication}")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in TOPICS if n not in existing]
        if missing:
            response = await admin.create_topics([
                NewTopic(name=n, num_partitions=partitions, replication_factor=replication,
                         topic_configs=topic_configs(n, min_insync)) for n in missing])
            # The broker answers per topic; a refusal must not pass for success.
            errors = [(t[0], t[1], t[2] if len(t) > 2 else "") for t in response.topic_errors if t[1] not in (0, 36)]
            if errors:
                raise RuntimeError(f"topic creation refused: {errors}")
        kept = [n for n in TOPICS if n in existing]
        low = under_replicated(await admin.describe_topics(kept), replication) if kept else {}
        return TopicsReport(missing, low)
    finally:
        await admin.close()


def warnings(report: TopicsReport, replication: int) -> list[str]:
    """What `goalpost topics` and `stack up` warn of after an ensure_topics run."""
    return [f"warning: topic {name} has {copies} replica(s), fewer than GOALPOST_TOPIC_REPLICATION={replication}; "
            "it is kept as it is (raise it with kafka-reassign-partitions)"
            for name, copies in sorted(report.under_replicated.items())]
