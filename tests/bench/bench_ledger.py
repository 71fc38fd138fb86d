"""Ledger benchmark on the real local stack (`goalpost stack up` first):

    .venv/bin/python -m tests.bench.bench_ledger [--reactions 50000]

Writes fresh posts straight to posts.classified.v1 and then upvotes to reactions.v1 with plain
aiokafka (so the ledger, not ingest or classify, is what is measured), then times how long the
ledger takes to commit them all (transactions included). Prints entries/s, memory, and the CPU
each process of the stack spent per entry over that time (the load generator's own sends to
Kafka included in Kafka's)."""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import orjson
from aiokafka import AIOKafkaProducer

from services.core.kafka_io import send_many
from services.core.settings import env
from tests.bench.common import stack_cpu, stack_memory
from tests.integration.ledger_load import _ledger_lag, journal


async def produce(topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=env("GOALPOST_KAFKA_BOOTSTRAP"), acks="all", linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    try:
        # batched appends keep the load generator's own CPU small next to the ledger's
        for i in range(0, len(records), 5000):
            futures = await send_many(producer, [(topic, key, value) for key, value in records[i:i + 5000]])
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reactions", type=int, default=50_000)
    ap.add_argument("--posts", type=int, default=5_000)
    args = ap.parse_args()
    run = f"lb{uuid.uuid4().hex[:8]}/"
    day = "2026-11-2{}T10:00:00.000Z"
    posts = []
    for i in range(args.posts):
        post = {"post_id": f"{run}p{i}", "author_id": f"{run}u{i}", "text": "x", "created_at": day.format(i % 7),
                "reply_to": None, "tags": [], "source": "bench", "intent": "status", "confidence": 1.0,
                "scores": {"status": 1.0}, "topics": [], "model_version": "bench"}
        posts.append((post["author_id"].encode(), orjson.dumps(post)))
    reactions = []
    for j in range(args.reactions):
        i = j % args.posts
        r = {"reaction_id": f"{run}r{j}", "actor_id": f"{run}a{j}", "post_id": f"{run}p{i}",
             "kind": "upvote", "created_at": day.format(i % 7)}
        reactions.append((r["post_id"].encode(), orjson.dumps(r)))
    await produce("posts.classified.v1", posts)
    while await _ledger_lag() > 0:
        await asyncio.sleep(0.2)
    mem_before = stack_memory()
    cpu_before = stack_cpu()
    started = time.perf_counter()
    await produce("reactions.v1", reactions)
    produced_s = time.perf_counter() - started
    while await _ledger_lag() > 0:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    cpu_after = stack_cpu()
    _, entries, distinct = await asyncio.to_thread(journal, run)
    print(json.dumps({
        "reactions": args.reactions, "entries": entries, "distinct_entry_ids": distinct,
        "produce_seconds": round(produced_s, 2), "ledger_seconds": round(elapsed, 2),
        "entries_per_s": round(entries / elapsed), "reactions_per_s": round(args.reactions / elapsed),
        "cpu_us_per_entry": {name: round((cpu_after[name] - cpu_before[name]) / max(entries, 1) * 1e6, 1)
                             for name in cpu_after if name in cpu_before},
        "memory_before_mib": mem_before, "memory_after_mib": stack_memory()}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
