"""Soak: sustained load on the real local stack, printing each process's memory and the
consumers' lag over time (`goalpost stack up` first):

    .venv/bin/python -m tests.bench.soak --rate 250 --minutes 10

One JSON line per interval; a final line says whether memory stayed flat (last interval within
15% + 10 MiB of the first after warm-up) and whether lag stayed bounded."""
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


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=250)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval", type=float, default=30)
    args = ap.parse_args()
    run = f"soak{uuid.uuid4().hex[:6]}/"
    samples = []
    end = time.monotonic() + args.minutes * 60
    i = 0
    while time.monotonic() < end:
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
