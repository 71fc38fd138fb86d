"""`goalpost reclassify --since T`: classify posts.v1 again, from time T on, with the current
model, and send the results to posts.classified.v1 under the current MODEL_VERSION.

Each post keeps its post_id, key and sealed text, so a consumer sees the same post again with a
new ``model_version``: the ledger records a post_id once (a repeat is ``noop:duplicate``); match
ranks a root post only when no Match is stored for it, re-learns a root post in place, and
learns a reply it remembers (its last 100,000) once. Only root posts are routed, so replies are
left out unless ``--replies`` is given. Posts whose author was erased stay unreadable and are
skipped.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Callable, Iterable, Optional

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.classify.app import classify_posts
from services.classify.model import MODEL_VERSION
from services.core import redis_client
from services.core.contracts import ContractError, Post, epoch_seconds
from services.core.kafka_io import read_until, send_many, topic_partitions
from services.core.privacy import KEYS_FOR_LUA, KeyRing
from services.core.settings import Settings

SOURCE_TOPIC = "posts.v1"


async def start_offsets(bootstrap: str, since_ms: int) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(first offset at or after since_ms, end offset) of every partition of posts.v1."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, [SOURCE_TOPIC])
        ends = await consumer.end_offsets(tps)
        found = await consumer.offsets_for_times({tp: since_ms for tp in tps})
        # no record at or after the time: nothing to read in that partition
        return {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in tps}, ends
    finally:
        await consumer.stop()


def decode(values: Iterable[Optional[bytes]], include_replies: bool) -> tuple[list[Post], int]:
    """Posts to classify again, and how many records were skipped as undecodable (the classify
    service dead-lettered those already)."""
    posts, bad = [], 0
    for raw in values:
        try:
            post = Post.from_json(raw or b"")
        except (ContractError, ValueError):
            bad += 1
            continue
        if include_replies or post.reply_to is None:
            posts.append(post)
    return posts, bad


async def reclassify(settings: Settings, since_iso: str, include_replies: bool = False, batch: int = 500,
                     log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> int:
    """Re-emits every post of posts.v1 from ``since_iso`` (RFC 3339) up to the end offsets at the
    start; returns how many ClassifiedPosts were sent (acks=all)."""

    start, ends = await start_offsets(settings.kafka_bootstrap, int(epoch_seconds(since_iso) * 1000))
    todo = sum(ends[tp] - start[tp] for tp in ends)
    log(f"reclassify: {todo} records of {SOURCE_TOPIC} since {since_iso}, model {MODEL_VERSION}")
    if todo <= 0:
        return 0
    redis = redis_client.connect(settings, max_connections=4)
    keyring = KeyRing(redis, redis.register_script(KEYS_FOR_LUA))
    classify = classify_posts(keyring.open_texts).handle
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                                max_batch_size=1 << 20, client_id="goalpost-reclassify")
    await producer.start()
    sent = skipped = 0
    try:
        async for records in read_until(settings.kafka_bootstrap, [SOURCE_TOPIC], until=ends, start=start,
                                        batch=batch):
            posts, bad = decode((r.value for r in records), include_replies)
            out = await classify(posts)  # the service's own handler: opened, classified, sent on sealed
            futures = await send_many(producer, [(rec.topic, rec.key(), rec.to_json()) for rec in out])
            await asyncio.gather(*futures)
            sent += len(out)
            skipped += len(records) - len(out)
        log(f"reclassify: sent {sent}, skipped {skipped} (replies, erased authors, undecodable)")
        return sent
    finally:
        await producer.stop()
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="goalpost reclassify", description=__doc__.split("\n\n")[0])
    ap.add_argument("--since", required=True, help="RFC 3339 time, e.g. 2026-12-01T00:00:00Z")
    ap.add_argument("--replies", action="store_true", help="re-emit replies too (see the module doc)")
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args(argv)
    try:
        epoch_seconds(args.since)
    except ValueError:
        ap.error(f"--since: not an RFC 3339 time: {args.since!r}")
    n = asyncio.run(reclassify(Settings("classify"), args.since, include_replies=args.replies, batch=args.batch))
    print(json.dumps({"sent": n, "model_version": MODEL_VERSION}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
