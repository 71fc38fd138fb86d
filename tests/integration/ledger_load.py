"""Shared by the ledger crash test and the ledger benchmark: a replay file with fresh ids and
extra reactions, and the offline computation of balances by the same rules."""
from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from services.core.kafka_io import read_until, total_group_lag
from services.core.settings import env
from services.ledger.rules import load_rules, replay
from services.ledger.topics import groups

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "se"


def load_with_extra_reactions(name: str, prefix: str, seed: int = 7, limit: int = 0) -> list[dict[str, Any]]:
    """The replay file with every id prefixed (fresh on each run) and extra votes, thanks and
    reversals by other users of the file, placed right after the post they react to."""
    rng = random.Random(seed)
    raw = [orjson.loads(line) for line in (SHARED / f"{name}.jsonl").read_bytes().splitlines() if line.strip()]
    if limit:
        raw = raw[:limit]
    users = sorted({e["author_id"] for e in raw if e["type"] == "post"})
    out: list[dict[str, Any]] = []
    n = 0
    for ev in raw:
        ev = dict(ev)
        for f in ("post_id", "author_id", "reply_to", "actor_id", "reaction_id"):
            if ev.get(f):
                ev[f] = f"{prefix}{ev[f]}"
        if ev["type"] == "reaction" and not ev.get("reaction_id"):
            n += 1
            ev["reaction_id"] = f"{prefix}r{n}"
        out.append(ev)
        if ev["type"] != "post":
            continue
        for _ in range(rng.choice((0, 0, 1, 2))):
            actor = prefix + rng.choice(users)
            kind = rng.choice(("upvote", "upvote", "downvote", "thanks"))
            n += 1
            out.append({"type": "reaction", "reaction_id": f"{prefix}x{n}", "actor_id": actor,
                        "post_id": ev["post_id"], "kind": kind, "created_at": ev["created_at"]})
            if kind != "thanks" and rng.random() < 0.2:
                n += 1
                out.append({"type": "reaction", "reaction_id": f"{prefix}x{n}", "actor_id": actor,
                            "post_id": ev["post_id"], "kind": "unvote", "created_at": ev["created_at"]})
    return out


def offline_balances(events: list[dict[str, Any]], matches: list[dict[str, Any]], prefix: str) -> dict[str, int]:
    """Balances computed from the input by the ledger's own rules, without Kafka: posts first,
    then the matches the match service produced, then the reactions in file order."""
    ordered = ([{**e, "type": "post"} for e in events if e["type"] == "post"]
               + [{**m, "type": "match"} for m in matches]
               + [e for e in events if e["type"] == "reaction"])
    state, _ = replay(ordered, load_rules())
    return {u: b for u, b in state.balances.items() if u.startswith(prefix)}


def send_all(events: list[dict[str, Any]], retry_unavailable: bool = False) -> dict[str, int]:
    """Sends a replay through the ingest HTTP API in order (posts in batches). Counts what was
    acknowledged; with retry_unavailable, 503s during an outage are retried until accepted."""
    import aiohttp

    from services.core.settings import port_of
    from services.tools.replay import IngestClient
    from services.tools.stack import first_api_key

    acked = {"posts": 0, "reactions": 0}

    async def go() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            client = IngestClient(session, f"http://127.0.0.1:{port_of('ingest')}", first_api_key())
            attempts = 200 if retry_unavailable else 20

            async def post(route: str, body: Any) -> tuple[int, Any]:
                for _ in range(attempts):
                    try:
                        return await client.post(route, body, attempts=attempts)
                    except aiohttp.ClientError:  # the ingest itself is being restarted
                        await asyncio.sleep(0.5)
                raise AssertionError(f"{route} never answered")

            batch: list[dict] = []
            for ev in events:
                body = {k: v for k, v in ev.items() if k != "type"}
                if ev["type"] == "post":
                    batch.append(body)
                    continue
                if batch:
                    status, _ = await post("/v1/posts/batch", batch)
                    assert status == 202, status
                    acked["posts"] += len(batch)
                    batch = []
                status, _ = await post("/v1/reactions", body)
                assert status in (200, 202), status
                acked["reactions"] += 1
            if batch:
                status, _ = await post("/v1/posts/batch", batch)
                assert status == 202, status
                acked["posts"] += len(batch)
    asyncio.run(go())
    return acked


async def _ledger_lag() -> int:
    return sum([await total_group_lag(env("GOALPOST_KAFKA_BOOTSTRAP"), group, topics) for group, topics in groups(int(env("GOALPOST_LEDGER_WORKERS"))).items()])


def ledger_lag() -> int:
    """Messages the ledger's stages have not committed yet (their transactional offsets): the
    resolver's inputs and the workers' credits."""
    return asyncio.run(_ledger_lag())


def journal(prefix: str) -> tuple[dict[str, int], int, int]:
    """(balances from ledger.entries.v1 for the prefix's users, entries, distinct entry ids)."""
    rows = topic_records("ledger.entries.v1", prefix, field="user_id")
    balances: dict[str, int] = {}
    for r in rows:
        balances[r["user_id"]] = balances.get(r["user_id"], 0) + r["delta"]
    return balances, len(rows), len({r["entry_id"] for r in rows})


def topic_records(topic: str, prefix: str, field: str = "post_id") -> list[dict[str, Any]]:
    async def go():
        rows = []
        async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), [topic]):
            rows.extend(r for r in (orjson.loads(m.value) for m in batch) if str(r.get(field, "")).startswith(prefix))
        return rows
    return asyncio.run(go())


__all__ = ["send_all", "load_with_extra_reactions", "offline_balances", "ledger_lag", "journal", "topic_records", "TopicPartition"]
