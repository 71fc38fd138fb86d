"""What polling a consumer group's lag costs the broker (`goalpost stack up` first):

    .venv/bin/python -m tests.bench.bench_lag_probe [--polls 40]

Polls the ledger's lag `--polls` times each way, one after the other, and prints the
broker's CPU per poll (from /proc, so the broker's background work over the same time counts
too), the poller's own CPU and the wall time per poll:
- `fresh_client`: a new consumer per poll, as the benchmarks did until the eighth session;
- `group_lag`: one GroupLag on open connections (services/core/kafka_io.py), as they do now.
A benchmark that polls every 50 ms while it measures takes this from the stack it measures."""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Awaitable, Callable

from aiokafka import AIOKafkaConsumer

from services.core.kafka_io import GroupLag, topic_partitions
from services.core.settings import env
from services.ledger.topics import GROUP_ID, INPUTS
from tests.bench.common import stack_cpu


async def fresh_client_lag(bootstrap: str) -> int:
    """The old way: a consumer started for one poll, one OffsetFetch per partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP_ID, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, INPUTS)
        end = await consumer.end_offsets(tps)
        return sum([max(0, end[tp] - ((await consumer.committed(tp)) or 0)) for tp in tps])
    finally:
        await consumer.stop()


async def measure(polls: int, poll: Callable[[], Awaitable[int]]) -> dict:
    await poll()  # connections and metadata of a first poll are not what a poll costs
    kafka, wall, own = stack_cpu()["kafka"], time.perf_counter(), time.process_time()
    for _ in range(polls):
        await poll()
    return {"broker_cpu_ms_per_poll": round((stack_cpu()["kafka"] - kafka) / polls * 1e3, 2),
            "poller_cpu_ms_per_poll": round((time.process_time() - own) / polls * 1e3, 2),
            "wall_ms_per_poll": round((time.perf_counter() - wall) / polls * 1e3, 2)}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--polls", type=int, default=40)
    args = ap.parse_args()
    bootstrap = env("GOALPOST_KAFKA_BOOTSTRAP")
    out = {"fresh_client": await measure(args.polls, lambda: fresh_client_lag(bootstrap))}
    async with GroupLag(bootstrap, GROUP_ID, INPUTS) as lag:
        out["group_lag"] = await measure(args.polls, lag.total)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
