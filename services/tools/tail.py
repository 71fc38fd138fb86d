"""`goalpost tail TOPIC`: prints each record of a topic as one JSON line (decoded, checked
against its contract; a record that does not fit is printed with the reason)."""
from __future__ import annotations

import sys

import orjson
from aiokafka import AIOKafkaConsumer

from services.core.contracts import TOPICS, ContractError, record_for_topic
from services.core.settings import env


async def tail(topic: str, from_beginning: bool = False, limit: int = 0) -> int:
    if topic not in TOPICS:
        print(f"unknown topic {topic!r}; topics: {', '.join(TOPICS)}", file=sys.stderr)
        return 2
    record_cls = record_for_topic(topic)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=env("GOALPOST_KAFKA_BOOTSTRAP"),
                                auto_offset_reset="earliest" if from_beginning else "latest",
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    seen = 0
    try:
        async for msg in consumer:
            try:
                record = record_cls.from_json(msg.value).to_dict()
            except ContractError as exc:
                record = {"_invalid": str(exc), "_raw": (msg.value or b"")[:500].decode("utf-8", "replace")}
            line = {"_partition": msg.partition, "_offset": msg.offset,
                    "_key": (msg.key or b"").decode("utf-8", "replace"), **record}
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
            sys.stdout.flush()
            seen += 1
            if limit and seen >= limit:
                break
    finally:
        await consumer.stop()
    return 0
