"""The ledger's own CPU per input, in-process (no stack needed):

    .venv/bin/python -m tests.bench.bench_ledger_cpu [--reactions 50000] [--batch 2000]

Runs the worker's batch step (`LedgerWorker.prepare`: decode, prefetch, rules, views and their
Redis update, encoding) and its checkpoints (taken when the store's cache is full, as in the
service) on the load of `bench_ledger` (fresh posts, then upvotes from distinct voters),
against a fresh rules store in a temporary directory. Kafka and Redis are left out, so this is
the part of the ledger's time that the code here decides. Prints µs of CPU per input, of the main thread (the event
loop's, which bounds the ledger's rate) and of the whole process (with the checkpoints' writer
thread), best of `--repeat` runs by the main thread's (other processes on the two cores only
ever add time), as JSON."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from typing import NamedTuple

import orjson


class Message(NamedTuple):  # the fields of aiokafka's ConsumerRecord that the ledger reads
    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes


def load(reactions: int, posts: int, partitions: int = 3) -> tuple[list[Message], list[Message]]:
    day = "2026-11-2{}T10:00:00.000Z"
    post_msgs, reaction_msgs = [], []
    for i in range(posts):
        post = {"post_id": f"run/p{i}", "author_id": f"run/u{i}", "text": "x", "created_at": day.format(i % 7),
                "reply_to": None, "tags": [], "source": "bench", "intent": "status", "confidence": 1.0,
                "scores": {"status": 1.0}, "topics": [], "model_version": "bench"}
        post_msgs.append(Message("posts.classified.v1", i % partitions, i // partitions, i, orjson.dumps(post)))
    for j in range(reactions):
        i = j % posts
        r = {"reaction_id": f"run/r{j}", "actor_id": f"run/a{j}", "post_id": f"run/p{i}",
             "kind": "upvote", "created_at": day.format(i % 7)}
        reaction_msgs.append(Message("reactions.v1", j % partitions, j // partitions, posts + j, orjson.dumps(r)))
    return post_msgs, reaction_msgs


async def run(args: argparse.Namespace, directory: str) -> dict:
    os.environ["GOALPOST_STATE_DIR"] = directory
    from services.core.runtime import settle_heap
    from services.ledger import batch as ledger
    from services.ledger.rules import LedgerState
    from services.ledger.store import StateStore

    worker = ledger.BatchStep()
    worker.store = StateStore(os.path.join(directory, "rules.sqlite"), args.cache_items)
    worker.state = LedgerState(worker.store)
    posts, reactions = load(args.reactions, args.posts)
    for i in range(0, len(posts), args.batch):
        await worker.prepare(posts[i:i + args.batch])
    worker.store.checkpoint({"state": worker.state.small_parts()})
    settle_heap()  # as the service does after its recovery
    entries = checkpoints = 0
    cpu, main_thread = time.process_time(), time.thread_time()
    for i in range(0, len(reactions), args.batch):
        if worker.store.dirty >= worker.store.capacity:  # what checkpoint_due() decides when the cache is full
            writing = worker.store.begin_checkpoint({"state": worker.state.small_parts()})
            await asyncio.wrap_future(writing)  # written by the store's thread, as in the service
            worker.store.finish_checkpoint()
            checkpoints += 1
        entries += len((await worker.prepare(reactions[i:i + args.batch])).encoded)
    cpu, main_thread = time.process_time() - cpu, time.thread_time() - main_thread
    worker.store.close()
    return {"inputs": len(reactions), "entries": entries, "checkpoints": checkpoints,
            "cpu_us_per_input": round(cpu / len(reactions) * 1e6, 1),
            "main_thread_us_per_input": round(main_thread / len(reactions) * 1e6, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reactions", type=int, default=50_000)
    ap.add_argument("--posts", type=int, default=5_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--cache-items", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as directory:
            runs.append(asyncio.run(run(args, directory)))
    best = min(runs, key=lambda r: r["main_thread_us_per_input"])
    best["runs_main_thread_us_per_input"] = [r["main_thread_us_per_input"] for r in runs]
    best["runs_cpu_us_per_input"] = [r["cpu_us_per_input"] for r in runs]
    best["inputs_per_s_main_thread"] = round(1e6 / best["main_thread_us_per_input"])
    print(json.dumps(best))


if __name__ == "__main__":
    main()
