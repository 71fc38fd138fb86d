"""Soak: sustained load on the real local stack, printing each process's memory and the
consumers' lag over time (`goalpost stack up` first):

    .venv/bin/python -m tests.bench.soak --rate 250 --minutes 10

One JSON line per interval; a final line says whether memory stayed flat (last interval within
15% + 10 MiB of the first after warm-up) and whether lag stayed bounded.

The services' state is bounded by count (match's postings per term and its caches of recent
posts, the ledger's cache), so memory grows until those fill: with this generator's 2,000 users,
match's fill at about 450,000 posts, 30 minutes at 250/s. `--warmup-posts N` first sends N posts
at `--warmup-rate`, waits for the consumers to catch up, and only then starts the measured
minutes, so that "flat" is judged at the steady state rather than while caches fill."""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
import uuid

from services.core.settings import SERVICE_PORTS, port_of
from tests.bench.bench_e2e import drive
from tests.bench.common import stack_memory


def total_lag() -> dict[str, float]:
    out = {}
    for service in SERVICE_PORTS:
        with urllib.request.urlopen(f"http://127.0.0.1:{port_of(service)}/metrics", timeout=5) as r:
            text = r.read().decode()
        out[service] = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                           if line.startswith("goalpost_consumer_lag_messages{"))
    return out


async def warm_up(run: str, posts: int, rate: float, chunk_s: float = 60) -> None:
    """Sends `posts` posts by the soak's users, then waits until every consumer has caught up."""
    started, sent, i = time.monotonic(), 0, 0
    while sent < posts:
        seconds = min(chunk_s, (posts - sent) / rate)
        sent += (await drive(rate, seconds, 50, f"{run}w{i}/", users=run))["posts"]
        i += 1
        print(json.dumps({"warmup_posts": sent, "t_s": round(time.monotonic() - started),
                          "rss_mib": stack_memory(), "lag": total_lag()}), flush=True)
    deadline = time.monotonic() + 600
    while max(total_lag().values()) > 50 and time.monotonic() < deadline:  # caught up (transaction markers aside)
        await asyncio.sleep(5)
    print(json.dumps({"warmup_done_s": round(time.monotonic() - started), "rss_mib": stack_memory()}), flush=True)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=250)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval", type=float, default=30)
    ap.add_argument("--warmup-posts", type=int, default=0, help="posts sent before the measured minutes")
    ap.add_argument("--warmup-rate", type=float, default=600)
    args = ap.parse_args()
    run = f"soak{uuid.uuid4().hex[:6]}/"
    if args.warmup_posts:
        await warm_up(run, args.warmup_posts, args.warmup_rate)
    samples = []
    end = time.monotonic() + args.minutes * 60
    i = 0
    while end - time.monotonic() > 1:  # no slivers of an interval at the end
        sent = await drive(args.rate, min(args.interval, end - time.monotonic()), 50, f"{run}{i}/", users=run)
        sample = {"t_s": round(args.minutes * 60 - (end - time.monotonic())), "sent": sent["posts"],
                  "errors": sent["errors"], "rss_mib": stack_memory(), "lag": total_lag()}
        samples.append(sample)
        print(json.dumps(sample), flush=True)
        i += 1
    first, last = samples[min(1, len(samples) - 1)], samples[-1]
    flat = {s: last["rss_mib"][s] <= first["rss_mib"][s] * 1.15 + 10 for s in SERVICE_PORTS}
    bounded = {s: last["lag"][s] <= max(10 * args.rate, 1000) for s in SERVICE_PORTS}
    print(json.dumps({"memory_flat": flat, "lag_bounded": bounded,
                      "ok": all(flat.values()) and all(bounded.values())}))


if __name__ == "__main__":
    asyncio.run(main())
