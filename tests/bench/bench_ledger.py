"""Ledger benchmark on the real local stack (`goalpost stack up` first):

    .venv/bin/python -m tests.bench.bench_ledger [--reactions 50000]

Writes fresh posts straight to posts.classified.v1 and then upvotes to reactions.v1 with plain
aiokafka (so the ledger, not ingest or classify, is what is measured), then times how long the
ledger takes to commit them all (transactions included). Prints entries/s, memory, and the CPU
each process of the stack spent per entry over that time (the load generator's own sends to
Kafka included in Kafka's). With --workers 1,2,4 it restarts the ledger with each number of
workers in turn (GOALPOST_LEDGER_WORKERS) and prints the runs side by side, the ledger's CPU
being that of all its processes. With --ceiling it first measures what Kafka and aiokafka alone allow
on this machine: the same reactions through a transactional consume-produce loop with no rules
(one entry-sized record out per record in, one transaction per batch, as the ledger commits)."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.core.kafka_io import GroupLag, send_many, topic_partitions
from services.core.settings import env
from services.ledger.topics import groups
from services.tools import stack
from tests.bench.common import cpu_seconds, rss_mib, stack_cpu, stack_memory
from tests.integration.ledger_load import journal


class LedgerLag:
    """The lag of every consumer group of the ledger (resolver and workers), summed."""

    def __init__(self) -> None:
        self.lags = [GroupLag(env("GOALPOST_KAFKA_BOOTSTRAP"), group, topics) for group, topics in groups(int(env("GOALPOST_LEDGER_WORKERS"))).items()]

    async def __aenter__(self) -> "LedgerLag":
        for lag in self.lags:
            await lag.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for lag in self.lags:
            await lag.stop()

    async def total(self) -> int:
        return sum([await lag.total() for lag in self.lags])


def ledger_cpu() -> dict[str, float]:
    """CPU seconds so far of each ledger process (worker 0 runs the resolver too)."""
    out = {}
    for name in stack.members(("ledger",)):
        pid = stack._pid(name)
        if pid:
            out[name] = sum(cpu_seconds(p) for p in stack.group_pids(pid))
    return out


def ledger_memory() -> dict[str, float]:
    out = {}
    for name in stack.members(("ledger",)):
        pid = stack._pid(name)
        if pid:
            out[name] = round(sum(rss_mib(p) for p in stack.group_pids(pid)), 1)
    return out


def restart_ledger(workers: int) -> None:
    """The ledger again with `workers` processes (their state restored before they are ready)."""
    stack.down(("ledger",))
    os.environ["GOALPOST_LEDGER_WORKERS"] = str(workers)
    for name in stack.members(("ledger",)):
        stack.start_service(name)
    for name in stack.members(("ledger",)):
        stack.wait_ready(name, 300)


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


async def ceiling(records: list[tuple[bytes, bytes]], batch: int) -> dict:
    """Reads `records` back from a scratch topic and, per batch of `batch`, commits as many
    ~200-byte records to another one in a Kafka transaction with the consumed offsets, the
    previous transaction finishing while the next batch is read (as the ledger pipelines them).
    No rules, no Redis: what the broker and the client cost on their own."""
    bootstrap = env("GOALPOST_KAFKA_BOOTSTRAP")
    run = uuid.uuid4().hex[:8]
    source, sink, group = f"bench.ceiling.in.{run}", f"bench.ceiling.out.{run}", f"bench-ceiling-{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(source, 4, 1), NewTopic(sink, 4, 1)])
        await asyncio.sleep(1)  # metadata
        await produce(source, records)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                    isolation_level="read_committed", auto_offset_reset="earliest",
                                    max_poll_records=batch)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=group, enable_idempotence=True,
                                    acks="all", linger_ms=5, max_batch_size=1 << 19)
        await consumer.start()
        await producer.start()
        entry = b"x" * 200

        async def commit(out: list, offsets: dict) -> None:
            async with producer.transaction():
                await send_many(producer, out)
                await producer.send_offsets_to_transaction(offsets, group)
        try:
            tps = await topic_partitions(consumer, [source])
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, 0)
            done, in_flight = 0, None
            started, cpu = time.perf_counter(), time.process_time()
            while done < len(records):
                got = await consumer.getmany(timeout_ms=200, max_records=batch)
                msgs = [m for part in got.values() for m in part]
                if not msgs:
                    continue
                out = [(sink, m.key, entry) for m in msgs]
                offsets = {TopicPartition(m.topic, m.partition): m.offset + 1 for m in msgs}
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(commit(out, offsets))
                done += len(msgs)
            await in_flight
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            await consumer.stop()
            await producer.stop()
    finally:
        await admin.delete_topics([source, sink])
        await admin.close()
    return {"records": len(records), "per_s": round(len(records) / elapsed),
            "client_cpu_us_per_record": round(cpu / len(records) * 1e6, 1)}


async def run_once(args: argparse.Namespace) -> dict:
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
    ceiling_result = await ceiling(reactions, int(env("GOALPOST_LEDGER_BATCH"))) if args.ceiling else None
    # One lag probe on open connections for the whole run: a fresh one per poll took over a
    # third of a core from the stack being measured (bench_lag_probe).
    async with LedgerLag() as lag:
        await produce("posts.classified.v1", posts)
        while await lag.total() > 0:
            await asyncio.sleep(0.2)
        mem_before = stack_memory()
        cpu_before, ledger_before = stack_cpu(), ledger_cpu()
        started = time.perf_counter()
        await produce("reactions.v1", reactions)
        produced_s = time.perf_counter() - started
        while await lag.total() > 0:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu_after, ledger_after = stack_cpu(), ledger_cpu()
    _, entries, distinct = await asyncio.to_thread(journal, run)
    per_entry = {name: round((cpu_after[name] - cpu_before[name]) / max(entries, 1) * 1e6, 1)
                 for name in cpu_after if name in cpu_before}
    per_entry["ledger"] = round(sum(ledger_after[n] - ledger_before.get(n, 0.0) for n in ledger_after)
                                / max(entries, 1) * 1e6, 1)
    return {
        "ledger_workers": len(ledger_after),
        "reactions": args.reactions, "entries": entries, "distinct_entry_ids": distinct,
        "produce_seconds": round(produced_s, 2), "ledger_seconds": round(elapsed, 2),
        "entries_per_s": round(entries / elapsed), "reactions_per_s": round(args.reactions / elapsed),
        "cpu_us_per_entry": per_entry,
        "ledger_cpu_us_per_entry_by_process": {n: round((ledger_after[n] - ledger_before.get(n, 0.0)) / max(entries, 1) * 1e6, 1)
                                               for n in ledger_after},
        "memory_before_mib": mem_before, "memory_after_mib": stack_memory(), "ledger_memory_mib": ledger_memory(),
        **({"ceiling_transactional_passthrough": ceiling_result} if ceiling_result else {})}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reactions", type=int, default=50_000)
    ap.add_argument("--posts", type=int, default=5_000)
    ap.add_argument("--workers", default="", help="comma-separated ledger worker counts to run in turn, e.g. 1,2,4")
    ap.add_argument("--ceiling", action="store_true", help="also measure a transactional pass-through with no rules")
    args = ap.parse_args()
    if not args.workers:
        print(json.dumps(await run_once(args), indent=2))
        return
    results = []
    for n in (int(w) for w in args.workers.split(",")):
        await asyncio.to_thread(restart_ledger, n)
        results.append(await run_once(args))
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps([{"workers": r["ledger_workers"], "entries_per_s": r["entries_per_s"],
                       "ledger_cpu_us_per_entry": r["cpu_us_per_entry"]["ledger"],
                       "kafka_cpu_us_per_entry": r["cpu_us_per_entry"].get("kafka"),
                       "ledger_memory_mib": r["ledger_memory_mib"]} for r in results], indent=2))


if __name__ == "__main__":
    asyncio.run(main())
