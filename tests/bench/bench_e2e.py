"""End-to-end benchmark on the real local stack (`goalpost stack up` first):

    .venv/bin/python -m tests.bench.bench_e2e --rate 1000 --seconds 20

Replays real ../shared/data/se text, recycled with fresh ids, through the ingest batch route at a
target rate (posts without created_at, so created_at is the ingest time), plus accept reactions
for the ledger. Then it reads the topics and reports, per stage, sustained throughput and the
latency from ingest to posts.classified.v1, to matches.v1 and to ledger.entries.v1 (each from
the record's created_at to the Kafka timestamp of the output message). In the same run it
measures the ceiling: plain aiokafka pass-through of the same payloads through the same number
of topic hops (3), and prints the ratio. Memory of every process is printed before and after."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from pathlib import Path

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.core.contracts import epoch_seconds
from services.core.kafka_io import send_many, topic_partitions
from services.core.settings import env, port_of
from services.tools.stack import first_api_key
from tests.bench.common import cpu_seconds, percentile, stack_cpu, stack_memory

SE = Path(__file__).resolve().parents[3] / "shared" / "data" / "se"
STAGES = {"posts.classified.v1": "classified", "matches.v1": "matched", "ledger.entries.v1": "ledger"}
HOPS = 3


def source_posts() -> list[dict]:
    out = []
    for f in sorted(SE.glob("*.jsonl")):
        for line in f.read_bytes().splitlines():
            ev = orjson.loads(line)
            if ev.get("type") == "post":
                out.append({"text": ev["text"][:1500], "tags": ev.get("tags", []), "root": ev.get("reply_to") is None})
    return out


async def end_offsets(topics: list[str]) -> dict[TopicPartition, int]:
    c = AIOKafkaConsumer(bootstrap_servers=env("GOALPOST_KAFKA_BOOTSTRAP"), enable_auto_commit=False)
    await c.start()
    try:
        return await c.end_offsets(await topic_partitions(c, topics))
    finally:
        await c.stop()


async def drive(rate: float, seconds: float, batch: int, run: str, users: str | None = None) -> dict:
    """Sends posts in batches at `rate` posts/s, one accept per 10 replies; returns counts.
    Post ids start with `run`; authors with `users` (default `run`), so that a soak can keep
    one population of 2,000 users across many calls."""
    posts = source_posts()
    rng = random.Random(1)
    headers = {"Authorization": f"Bearer {first_api_key()}", "Content-Type": "application/json"}
    base = f"http://127.0.0.1:{port_of('ingest')}"
    sent: dict = {"posts": 0, "reactions": 0, "errors": 0, "error_statuses": {}}
    roots: list[tuple[str, str]] = []
    replies: list[tuple[str, str]] = []  # (reply_id, root author)

    def refused(status: int, n: int) -> None:  # posts and reactions refused, by HTTP status
        sent["errors"] += n
        sent["error_statuses"][str(status)] = sent["error_statuses"].get(str(status), 0) + n

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        async def post_batch(items: list[dict]) -> None:
            async with session.post(base + "/v1/posts/batch", data=orjson.dumps(items), headers=headers) as r:
                body = await r.json()
                if r.status == 202:
                    sent["posts"] += body["accepted"]
                else:
                    refused(r.status, len(items))

        async def react(reaction: dict) -> None:
            async with session.post(base + "/v1/reactions", data=orjson.dumps(reaction), headers=headers) as r:
                await r.read()
                if r.status == 202:
                    sent["reactions"] += 1
                else:
                    refused(r.status, 1)

        tasks = []
        start = time.perf_counter()
        n_batches = int(rate * seconds / batch)
        k = 0
        for b in range(n_batches):
            delay = start + b * batch / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            items = []
            for _ in range(batch):
                src = posts[k % len(posts)]
                k += 1
                pid, author = f"{run}p{k}", f"{users or run}u{rng.randrange(2000)}"
                item = {"post_id": pid, "author_id": author, "text": src["text"], "tags": src["tags"]}
                if not src["root"] and roots:
                    root_id, root_author = roots[rng.randrange(max(0, len(roots) - 200), len(roots))]
                    item["reply_to"] = root_id
                    replies.append((pid, root_author))
                else:
                    roots.append((pid, author))
                items.append(item)
            tasks.append(asyncio.create_task(post_batch(items)))
            for reply_id, root_author in replies[-batch // 10:] if b % 2 else []:
                tasks.append(asyncio.create_task(react({"actor_id": root_author, "post_id": reply_id, "kind": "accept"})))
            tasks = [t for t in tasks if not t.done()]
        await asyncio.gather(*tasks)
        sent["send_seconds"] = round(time.perf_counter() - start, 2)
    return sent


async def read_stage(topics: list[str], since: dict[TopicPartition, int], run: str, expect: int,
                     timeout_s: float) -> dict[str, list]:
    """Records of this run per topic, waiting until posts.classified.v1 holds `expect` posts."""
    c = AIOKafkaConsumer(bootstrap_servers=env("GOALPOST_KAFKA_BOOTSTRAP"), enable_auto_commit=False,
                         isolation_level="read_committed", max_poll_records=5000)
    await c.start()
    out: dict[str, list] = {t: [] for t in topics}
    try:
        tps = await topic_partitions(c, topics)
        c.assign(tps)
        for tp in tps:
            c.seek(tp, since.get(tp, 0))
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            got = await c.getmany(timeout_ms=500)
            for tp, msgs in got.items():
                for m in msgs:
                    if run.encode() in m.value:
                        out[tp.topic].append((m.timestamp / 1000.0, orjson.loads(m.value)))
            if got:
                quiet_since = time.monotonic()
            elif len(out["posts.classified.v1"]) >= expect and time.monotonic() - quiet_since > 3:
                break
    finally:
        await c.stop()
    return out


def summarise(records: dict[str, list]) -> dict:
    created = {r["post_id"]: epoch_seconds(r["created_at"]) for _, r in records["posts.classified.v1"]}
    result = {}
    for topic, name in STAGES.items():
        rows = records[topic]
        lat = []
        for ts, r in rows:
            if topic == "matches.v1":
                if r["post_id"] in created:
                    lat.append(ts - created[r["post_id"]])
            else:
                lat.append(ts - epoch_seconds(r["created_at"]))
        lat.sort()
        span = (max(t for t, _ in rows) - min(t for t, _ in rows)) if len(rows) > 1 else 0
        result[name] = {"records": len(rows), "per_s": round(len(rows) / span) if span else None,
                        "p50_ms": round(percentile(lat, .5) * 1e3, 1) if lat else None,
                        "p99_ms": round(percentile(lat, .99) * 1e3, 1) if lat else None}
    return result


async def ceiling(payloads: list[bytes]) -> dict:
    """Plain aiokafka: the same payloads through HOPS topic hops (consume, produce), no work,
    with the same batched produce path as the services (kafka_io.send_many)."""
    bootstrap = env("GOALPOST_KAFKA_BOOTSTRAP")
    names = [f"bench.hop.{i}" for i in range(HOPS + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        missing = [n for n in names if n not in set(await admin.list_topics())]
        if missing:
            await admin.create_topics([NewTopic(n, 4, 1) for n in missing])
    finally:
        await admin.close()
    start_marks = await end_offsets(names)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    n = len(payloads)
    done = asyncio.Event()

    async def hop(i: int) -> None:
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000)
        await c.start()
        tps = await topic_partitions(c, [names[i]])
        c.assign(tps)
        for tp in tps:
            c.seek(tp, start_marks[tp])
        seen = 0
        try:
            while seen < n:
                got = await c.getmany(timeout_ms=200)
                out = []
                for msgs in got.values():
                    seen += len(msgs)
                    if i < HOPS:
                        out.extend((names[i + 1], m.key, m.value) for m in msgs)
                if out:  # batched appends, as the services send
                    await asyncio.gather(*await send_many(producer, out))
        finally:
            await c.stop()
        if i == HOPS:
            done.set()

    hops = [asyncio.create_task(hop(i)) for i in range(1, HOPS + 1)]
    start = time.perf_counter()
    await asyncio.gather(*await send_many(producer, [(names[0], str(j % 97).encode(), p)
                                                     for j, p in enumerate(payloads)]))
    # hop 0 -> 1 is done by a consumer too
    hops.append(asyncio.create_task(hop(0)))
    await asyncio.wait_for(done.wait(), timeout=300)
    elapsed = time.perf_counter() - start
    for t in hops:
        t.cancel()
    await producer.stop()
    return {"messages": n, "hops": HOPS, "seconds": round(elapsed, 2), "per_s": round(n / elapsed)}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--drain-timeout", type=float, default=180)
    args = ap.parse_args()
    run = f"e2e{uuid.uuid4().hex[:8]}/"
    topics = list(STAGES)
    since = await end_offsets(topics)
    mem_before = stack_memory()
    cpu_before, own_before, wall_before = stack_cpu(), cpu_seconds(os.getpid()), time.perf_counter()
    sent = await drive(args.rate, args.seconds, args.batch, run)
    mem_after_load = stack_memory()
    records = await read_stage(topics, since, run, sent["posts"], args.drain_timeout)
    # CPU of each process while the posts were offered and drained: where the two cores went
    # (the load generator's includes reading the outputs back)
    wall = time.perf_counter() - wall_before
    cpu = {name: seconds - cpu_before.get(name, 0.0) for name, seconds in stack_cpu().items()}
    cpu["load generator"] = cpu_seconds(os.getpid()) - own_before
    cpu_share = {name: {"cores": round(seconds / wall, 2), "us_per_post": round(seconds / max(sent["posts"], 1) * 1e6)}
                 for name, seconds in cpu.items()}
    stages = summarise(records)
    payloads = [orjson.dumps(r) for _, r in records["posts.classified.v1"]][: max(1, sent["posts"])]
    ceil = await ceiling(payloads) if payloads else {}
    best = stages["classified"]["per_s"] or 0
    print(json.dumps({"target_rate": args.rate, "seconds": args.seconds, "sent": sent, "stages": stages,
                      "ceiling_plain_aiokafka": ceil,
                      "ratio_classified_to_ceiling": round(best / ceil["per_s"], 3) if ceil.get("per_s") else None,
                      "cpu_while_offered_and_drained": {"seconds": round(wall, 1), **cpu_share},
                      "memory_mib": {"before": mem_before, "after_load": mem_after_load, "end": stack_memory()}},
                     indent=2))


if __name__ == "__main__":
    asyncio.run(main())
