"""`goalpost replay FILE`: sends a replay file (SPEC.md format) through the ingest HTTP API in
order, posts in batches, with a progress bar; honours 429 Retry-After and retries 503."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from tqdm import tqdm

from services.core.settings import port_of
from services.tools.stack import first_api_key


def read_replay(path: Path, limit: int = 0) -> list[dict[str, Any]]:
    events = []
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                events.append(orjson.loads(line))
                if limit and len(events) >= limit:
                    break
    return events


class IngestClient:
    def __init__(self, session: aiohttp.ClientSession, base: str, key: str):
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def post(self, route: str, body: Any, attempts: int = 20) -> tuple[int, Any]:
        data = orjson.dumps(body)
        for _ in range(attempts):
            async with self.session.post(self.base + route, data=data, headers=self.headers) as resp:
                payload = await resp.json(content_type=None)
                if resp.status in (429, 503):
                    await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                    continue
                return resp.status, payload
        return resp.status, payload


async def replay_http(path: Path, rate: float = 0, batch_size: int = 200, limit: int = 0,
                      progress: bool = True, base: str | None = None) -> dict[str, Any]:
    events = read_replay(path, limit)
    base = base or f"http://127.0.0.1:{port_of('ingest')}"
    report: dict[str, Any] = {"file": str(path), "events": len(events), "posts": 0, "reactions": 0,
              "duplicates": 0, "rejected": 0, "failed": 0}
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        client = IngestClient(session, base, first_api_key())
        bar = tqdm(total=len(events), unit="ev", disable=not progress, desc=path.name)
        batch: list[dict] = []

        async def flush() -> None:
            if not batch:
                return
            status, body = await client.post("/v1/posts/batch", batch)
            if status in (202, 422) and isinstance(body, dict) and "results" in body:
                report["posts"] += body["accepted"]
                report["duplicates"] += body["duplicate"]
                report["rejected"] += body["rejected"]
            else:
                report["failed"] += len(batch)
            bar.update(len(batch))
            batch.clear()

        for i, ev in enumerate(events):
            if rate:
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await flush()
                    await asyncio.sleep(delay)
            kind = ev.get("type")
            payload = {k: v for k, v in ev.items() if k != "type"}
            if kind == "post":
                batch.append(payload)
                if len(batch) >= batch_size:
                    await flush()
            elif kind in ("reaction", "relation"):
                await flush()  # keep file order: the post before its reactions
                status, body = await client.post(f"/v1/{kind}s", payload)
                if status == 202:
                    report["reactions"] += 1
                elif status == 200:
                    report["duplicates"] += 1
                elif 400 <= status < 500:
                    report["rejected"] += 1
                else:
                    report["failed"] += 1
                bar.update(1)
            else:
                report["rejected"] += 1
                bar.update(1)
        await flush()
        bar.close()
    elapsed = time.perf_counter() - started
    report["seconds"] = round(elapsed, 2)
    report["events_per_s"] = round(len(events) / elapsed, 1) if elapsed else None
    return report
