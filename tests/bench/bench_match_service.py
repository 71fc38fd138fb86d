"""Match through the service on the real local stack (`goalpost stack up` first):

    .venv/bin/python -m tests.bench.bench_match_service [--helpers 2000] [--history 40000] [--requests 10000]

Writes classified posts straight to posts.classified.v1 with plain aiokafka, so that match, not
ingest or classify, is what is measured. First a history the index learns from (root posts by
askers, replies by `--helpers` helpers; real text from ../shared/data/se), then it waits until
match has caught up; then it writes `--requests` routed requests at once and times how long the
service takes until matches.v1 holds a match for every one of them (ranking, the match records,
their Redis copies and inboxes). Prints matches/s, how many matches had candidates, and memory.
bench_match measures rank() alone, in-process, with 100,000 profiles."""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import orjson
from aiokafka import AIOKafkaConsumer

from services.core.contracts import format_ts
from services.core.kafka_io import topic_partitions, total_group_lag
from services.core.settings import env
from tests.bench.bench_e2e import end_offsets, source_posts
from tests.bench.bench_ledger import produce
from tests.bench.common import stack_memory

TOPIC = "posts.classified.v1"
MATCH_GROUP = "goalpost-match"  # Runtime.group_id of the match service


def classified(post_id: str, author: str, text: str, tags: list[str], at: datetime, intent: str,
               reply_to: str | None = None) -> tuple[bytes, bytes]:
    post = {"post_id": post_id, "author_id": author, "text": text, "created_at": format_ts(at),
            "reply_to": reply_to, "tags": tags, "source": "bench", "intent": intent, "confidence": 1.0,
            "scores": {intent: 1.0}, "topics": tags[:3], "model_version": "bench"}
    return post_id.encode(), orjson.dumps(post)


async def wait_caught_up(timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while await total_group_lag(env("GOALPOST_KAFKA_BOOTSTRAP"), MATCH_GROUP, [TOPIC]) > 0:
        if time.monotonic() > deadline:
            raise SystemExit("match did not catch up with the history; is the stack up?")
        await asyncio.sleep(0.2)


async def read_matches(since, run: str, expect: int, timeout_s: float) -> list[tuple[float, dict]]:
    """(broker timestamp s, match) of this run's posts on matches.v1, until `expect` are there."""
    c = AIOKafkaConsumer(bootstrap_servers=env("GOALPOST_KAFKA_BOOTSTRAP"), enable_auto_commit=False,
                         max_poll_records=5000)
    await c.start()
    found: dict[str, tuple[float, dict]] = {}
    try:
        tps = await topic_partitions(c, ["matches.v1"])
        c.assign(tps)
        for tp in tps:
            c.seek(tp, since.get(tp, 0))
        deadline = time.monotonic() + timeout_s
        while len(found) < expect and time.monotonic() < deadline:
            for msgs in (await c.getmany(timeout_ms=500)).values():
                for m in msgs:
                    if run.encode() in m.value:
                        match = orjson.loads(m.value)
                        found.setdefault(match["post_id"], (m.timestamp / 1000.0, match))
    finally:
        await c.stop()
    return list(found.values())


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--helpers", type=int, default=2000)
    ap.add_argument("--history", type=int, default=40_000, help="posts the index learns from first")
    ap.add_argument("--requests", type=int, default=10_000)
    args = ap.parse_args()
    rng = random.Random(11)
    run = f"mb{uuid.uuid4().hex[:8]}/"
    texts = source_posts()
    roots_text = [t for t in texts if t["root"]]
    replies_text = [t for t in texts if not t["root"]]
    now = datetime.now(timezone.utc)

    # History: one root in five, each reply by a helper (a few answer a lot) to a recent root.
    history, roots = [], []
    start = now - timedelta(hours=6)
    for i in range(args.history):
        at = start + timedelta(seconds=i * 6 * 3600 / args.history)
        if i % 5 == 0 or not roots:
            t = rng.choice(roots_text)
            pid = f"{run}h{i}"
            roots.append(pid)
            history.append(classified(pid, f"{run}asker{rng.randrange(5 * args.helpers)}", t["text"], t["tags"],
                                      at, "status"))  # history roots are not routed themselves
        else:
            t = rng.choice(replies_text)
            helper = int(args.helpers * rng.random() ** 2)  # skewed activity
            history.append(classified(f"{run}h{i}", f"{run}helper{helper}", t["text"], t["tags"], at,
                                      "offer", reply_to=rng.choice(roots[-200:])))
    await produce(TOPIC, history)
    await wait_caught_up(600)

    requests = []
    for i in range(args.requests):
        t = rng.choice(roots_text)
        requests.append(classified(f"{run}q{i}", f"{run}asker{rng.randrange(5 * args.helpers)}", t["text"],
                                   t["tags"], now, "request"))
    since = await end_offsets(["matches.v1"])
    mem_before = stack_memory()
    started = time.time()
    await produce(TOPIC, requests)
    produced_s = time.time() - started
    matches = await read_matches(since, run, args.requests, timeout_s=600)
    last = max((ts for ts, _ in matches), default=started)
    elapsed = last - started
    print(json.dumps({
        "helpers": args.helpers, "history_posts": args.history, "requests": args.requests,
        "matches": len(matches), "with_candidates": sum(1 for _, m in matches if m["candidates"]),
        "produce_seconds": round(produced_s, 2), "match_seconds": round(elapsed, 2),
        "matches_per_s": round(len(matches) / elapsed) if elapsed > 0 else None,
        "memory_before_mib": mem_before, "memory_after_mib": stack_memory()}, indent=2))
    if len(matches) < args.requests:
        raise SystemExit(f"only {len(matches)} of {args.requests} requests were matched within the timeout")


if __name__ == "__main__":
    asyncio.run(main())
