"""`goalpost report`: what the stack made of the data: posts by intent, goals and requests
matched, the asks sent, and the top of the leaderboard. Waits until the pipeline has drained."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from typing import Any

import orjson

from services.core.kafka_io import read_until
from services.core.settings import env, port_of
from services.tools.stack import first_api_key


async def _counts() -> dict[str, Any]:
    intents: Counter = Counter()
    roots = set()
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), ["posts.classified.v1"]):
        for m in batch:
            rec = orjson.loads(m.value)
            intents[rec["intent"]] += 1
            if rec.get("reply_to") is None and rec["intent"] in ("goal", "request"):
                roots.add(rec["post_id"])
    matched = set()
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), ["matches.v1"]):
        for m in batch:
            rec = orjson.loads(m.value)
            if rec["candidates"]:
                matched.add(rec["post_id"])
    asked = 0
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), ["notifications.v1"]):
        asked += len(batch)
    entries = 0
    async for batch in read_until(env("GOALPOST_KAFKA_BOOTSTRAP"), ["ledger.entries.v1"]):
        entries += len(batch)
    return {"posts_by_intent": dict(intents), "goals_and_requests": len(roots),
            "matched_to_helpers": len(matched & roots), "helpers_asked": asked, "ledger_entries": entries}


def _leaderboard(limit: int = 5) -> list[dict]:
    url = f"http://127.0.0.1:{port_of('ledger')}/v1/leaderboard?window=all&limit={limit}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {first_api_key()}"})
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())["leaders"]


def report(settle_s: float = 3.0, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = asyncio.run(_counts())
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= settle_s:
            break
        time.sleep(1)
    assert last is not None
    return {**last, "leaderboard_top": _leaderboard()}


def print_report(r: dict[str, Any]) -> None:
    total = sum(r["posts_by_intent"].values())
    print(f"\nposts classified: {total}")
    for intent in ("goal", "request", "offer", "status"):
        print(f"  {intent:8s} {r['posts_by_intent'].get(intent, 0)}")
    print(f"goals and requests matched to helpers: {r['matched_to_helpers']} of {r['goals_and_requests']}")
    print(f"asks sent (notifications.v1, first waves; later waves follow every "
          f"GOALPOST_MATCH_WAVE_AFTER_S without a reply): {r['helpers_asked']}")
    print(f"ledger entries: {r['ledger_entries']}")
    print("leaderboard (all time):")
    for row in r["leaderboard_top"]:
        print(f"  {row['rank']}. {row['user_id']:24s} {row['points']} points")
