"""A broker killed under load, on the local three-broker cluster (`goalpost stack up --brokers 3`
first):

    .venv/bin/python -m tests.bench.bench_broker_kill [--rate 500] [--seconds 60] [--kill-at 15] [--back-at 35]

Sends single posts over HTTP at a fixed rate (open loop: a request's latency counts from when
it was due), kills one broker with SIGKILL at --kill-at seconds and starts it again at
--back-at. Prints the p99 latency per 5-second window, how long after the kill the p99 was back
within twice the p99 before it, the answers by status, how many acknowledged posts are missing
from posts.v1 and posts.classified.v1, and whether any ledger entry was journalled twice."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
import uuid

import orjson

from services.core.kafka_io import read_until
from services.core.settings import env, port_of
from services.tools import stack
from tests.bench.bench_ingest import KeepAliveConnection, post_request
from tests.bench.common import percentile

WINDOW_S = 5.0


async def load(rate: float, seconds: float, kill_at: float, back_at: float, victim: str) -> dict:
    host, port, key = "127.0.0.1", port_of("ingest"), stack.first_api_key()
    run = uuid.uuid4().hex[:8]
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(await KeepAliveConnection.open(host, port))
    samples: list[tuple[float, float, int, str]] = []  # (sent at, latency, status, post id)

    async def one(i: int, due: float, start: float) -> None:
        post_id = f"bk{run}-{i}"
        raw = post_request(host, port, "/v1/posts", key, orjson.dumps(
            {"post_id": post_id, "author_id": f"bk{run}-u{i % 500}", "text": "How do I keep basil alive indoors?"}))
        conn = await pool.get()
        try:
            status = await conn.request(raw)
        except Exception:
            status, conn = 0, await KeepAliveConnection.open(host, port)
        finally:
            pool.put_nowait(conn)
        samples.append((due - start, time.perf_counter() - due, status, post_id))

    async def chaos(start: float) -> dict:
        await asyncio.sleep(max(0.0, start + kill_at - time.perf_counter()))
        os.killpg(stack._pid(victim), signal.SIGKILL)
        killed = time.perf_counter() - start
        await asyncio.sleep(max(0.0, start + back_at - time.perf_counter()))
        await asyncio.to_thread(stack.start_kafka)
        return {"killed_at_s": round(killed, 1), "back_at_s": round(time.perf_counter() - start, 1)}

    start = time.perf_counter()
    chaos_task = asyncio.create_task(chaos(start))
    tasks = []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due, start)))
    await asyncio.gather(*tasks)
    timeline = await chaos_task
    return {"run": run, "samples": samples, **timeline}


async def topic_ids(topic: str, prefix: str) -> set[str]:
    found = set()
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), [topic]):
        for m in batch:
            rec = orjson.loads(m.value)
            if str(rec.get("post_id", "")).startswith(prefix):
                found.add(rec["post_id"])
    return found


async def journal_repeats() -> int:
    seen, repeats = set(), 0
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), ["ledger.entries.v1"]):
        for m in batch:
            eid = orjson.loads(m.value)["entry_id"]
            repeats += eid in seen
            seen.add(eid)
    return repeats


def summarise(result: dict, kill_at: float) -> dict:
    samples = result.pop("samples")
    windows: dict[int, list[float]] = {}
    for sent, latency, _, _ in samples:
        windows.setdefault(int(sent // WINDOW_S), []).append(latency)
    p99 = {w: percentile(sorted(v), 0.99) for w, v in sorted(windows.items())}
    before = [v for w, v in p99.items() if (w + 1) * WINDOW_S <= kill_at]
    normal = max(before) if before else min(p99.values())
    after_kill = [w for w in p99 if w * WINDOW_S >= kill_at]
    recovered = next((w for w in after_kill if all(p99[x] <= 2 * normal for x in after_kill if x >= w)), None)
    statuses: dict[str, int] = {}
    for _, _, status, _ in samples:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {**result,
            "p99_ms_per_5s": {f"{w * WINDOW_S:.0f}s": round(v * 1000, 1) for w, v in p99.items()},
            "p99_ms_before_kill": round(normal * 1000, 1),
            "p99_back_within_2x_after_kill_s": (None if recovered is None
                                                else round(recovered * WINDOW_S - kill_at, 1)),
            "answers": statuses,
            "acknowledged": sum(1 for s in samples if s[2] == 202),
            "acked_ids": {s[3] for s in samples if s[2] == 202}}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--kill-at", type=float, default=15)
    ap.add_argument("--back-at", type=float, default=35)
    ap.add_argument("--broker", default="kafka-2", help="the broker to kill (kafka-1, kafka-2, kafka-3)")
    args = ap.parse_args()
    if stack.brokers() != 3:
        raise SystemExit("run `goalpost stack up --brokers 3` first (with the same GOALPOST_STATE_DIR)")
    stack.apply_brokers_env()
    out = summarise(await load(args.rate, args.seconds, args.kill_at, args.back_at, args.broker), args.kill_at)
    acked = out.pop("acked_ids")
    prefix = f"bk{out['run']}-"
    deadline = time.monotonic() + 180
    while True:  # everything acknowledged reaches the topics once the cluster has recovered
        validated, classified = await topic_ids("posts.v1", prefix), await topic_ids("posts.classified.v1", prefix)
        if acked <= classified or time.monotonic() > deadline:
            break
        await asyncio.sleep(5)
    out["acknowledged_missing_from_posts_v1"] = len(acked - validated)
    out["acknowledged_missing_from_posts_classified_v1"] = len(acked - classified)
    out["ledger_entries_journalled_twice"] = await journal_repeats()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
