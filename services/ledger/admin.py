"""`goalpost ledger verify|rebuild`: the journal (ledger.entries.v1) is the truth.

verify: recomputes balances from the journal and compares them with the Redis view and with the
latest record per user on the compacted ledger.balances.v1; exits 1 on any difference.
rebuild: recomputes every Redis view of the ledger from the journal.
"""
from __future__ import annotations

import orjson

from services.core import redis_client
from services.core.contracts import dumps
from services.core.kafka_io import read_until
from services.core.settings import Settings, env
from services.ledger.views import (
    RECENT_ENTRIES,
    RedisViews,
    Views,
    compare_balances,
    recent_calls,
    recent_member,
    view_calls,
    view_key,
    views_from_entries,
)


async def _erased() -> set[str]:
    """The users erased on request (erasures.v1): the views leave them out."""
    out: set[str] = set()
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), ["erasures.v1"]):
        out.update(orjson.loads(m.value)["user_id"] for m in batch if m.value)
    return out


async def _journal() -> tuple[Views, list[dict]]:
    """The views the journal gives, and its entries, both without the erased users."""
    erased = await _erased()
    entries: list[dict] = []
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), ["ledger.entries.v1"]):
        entries.extend(e for e in (orjson.loads(m.value) for m in batch) if e["user_id"] not in erased)
    return views_from_entries(entries), entries


async def _balances_topic() -> dict[str, int]:
    latest: dict[str, int] = {}
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), ["ledger.balances.v1"]):
        for m in sorted(batch, key=lambda m: (m.partition, m.offset)):
            if m.value is None:  # a tombstone: the user was erased
                latest.pop(m.key.decode(), None)
                continue
            rec = orjson.loads(m.value)
            latest[rec["user_id"]] = int(rec["balance"])
    return latest


async def verify() -> int:
    views, entries = await _journal()
    redis = redis_client.connect(Settings("ledger"), max_connections=4)
    try:
        raw: dict[bytes, bytes] = await redis.hgetall(view_key("balance"))
    finally:
        await redis.aclose()
    in_redis = {k.decode(): int(v) for k, v in raw.items()}
    problems = [f"redis {p}" for p in compare_balances(views.balances, in_redis)]
    problems += [f"ledger.balances.v1 {p}" for p in compare_balances(views.balances, await _balances_topic())]
    print(f"journal: {len(entries)} entries ({len(views.seen)} distinct), {len(views.balances)} users, "
          f"{sum(views.balances.values())} points in circulation")
    for p in problems[:50]:
        print(f"MISMATCH {p}")
    print("ledger verify: OK" if not problems else f"ledger verify: {len(problems)} mismatches")
    return 0 if not problems else 1


async def rebuild() -> int:
    """Every view written anew from the journal, through the live ledger's own writes, into a
    staging copy that then replaces the live views in one transaction."""
    views, entries = await _journal()
    per_user: dict[str, list[dict]] = {}
    for e in entries:
        per_user.setdefault(e["user_id"], []).append(e)
    recent: dict[str, list] = {}
    for user, es in per_user.items():
        for e in sorted(es, key=lambda e: e["created_at"])[-RECENT_ENTRIES:]:
            recent.setdefault(user, []).extend(recent_member(e["created_at"], dumps(e)))
    redis = redis_client.connect(Settings("ledger"), max_connections=4)
    try:
        out = RedisViews(redis, staging=True)  # written aside, then swapped in at once
        await out.delete_staged()
        for call in view_calls(views):
            await out.write(call)
        for call in recent_calls(recent):
            await out.write(call)
        await out.publish_staged()
    finally:
        await redis.aclose()
    print(f"ledger rebuild: {len(views.balances)} balances and leaderboards from {len(entries)} entries")
    return 0
