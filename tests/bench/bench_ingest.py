"""Ingest benchmark on the real local stack over loopback (`goalpost stack up` first):

    .venv/bin/python -m tests.bench.bench_ingest [--seconds 10]

Prints JSON: single-post throughput with N concurrent clients, latency p50/p99 at a fixed
1,000 requests/s, batch-route throughput in posts/s, and the services' resident memory."""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import orjson
import uvloop

from services.core.settings import port_of
from services.tools.stack import first_api_key
from tests.bench.common import closed_loop, percentile, stack_memory

WRK_SCRIPT = Path(__file__).with_name("wrk_posts.lua")
TEXT = "How do I get started with sourdough? My starter never rises and smells of acetone."


async def single_posts_max(session, url, headers, seconds: float, concurrency: int) -> dict:
    errors = 0
    run = uuid.uuid4().hex[:8]

    async def one(w: int, i: int) -> None:
        nonlocal errors
        body = orjson.dumps({"author_id": f"b{run}-{w}-{i % 50}", "text": TEXT})
        async with session.post(url, data=body, headers=headers) as r:
            await r.read()
            if r.status != 202:
                errors += 1

    latencies, elapsed = await closed_loop(concurrency, seconds, one)
    return {"generator": "python aiohttp", "concurrency": concurrency, "requests": len(latencies), "errors": errors,
            "requests_per_s": round(len(latencies) / elapsed), "p50_ms": round(percentile(latencies, .5) * 1e3, 2),
            "p99_ms": round(percentile(latencies, .99) * 1e3, 2)}


def single_posts_max_wrk(url: str, api_key: str, seconds: float, concurrency: int) -> dict:
    """The same measurement with wrk (a C load generator, `deploy/setup.sh` installs it): the
    Python client above spends more CPU per request than the server, on the same two cores."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{int(seconds)}s", "--latency", "-s", str(WRK_SCRIPT),
         "-H", f"Authorization: Bearer {api_key}", "-H", "Content-Type: application/json", url],
        capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {"generator": "wrk", "concurrency": concurrency,
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else "",
            "requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))),
            "p50_ms": _ms(latency["50"]), "p99_ms": _ms(latency["99"])}


def _ms(wrk_time: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", wrk_time).groups()
    return round(float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit], 2)


class KeepAliveConnection:
    """One HTTP/1.1 keep-alive connection that sends prepared requests and reads the status
    and body of each reply: a few tens of µs per request, where aiohttp's client spent more
    CPU per request than the server on these two cores and inflated the tail it measured."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> "KeepAliveConnection":
        return cls(*await asyncio.open_connection(host, port))

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        await self.reader.readexactly(int(length.group(1)) if length else 0)
        return int(head[9:12])

    def close(self) -> None:
        self.writer.close()


def post_request(host: str, port: int, path: str, api_key: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {api_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def single_posts_at_rate(host: str, port: int, api_key: str, rate: float, seconds: float,
                               connections: int = 64) -> dict:
    """Open loop: request i is due at start + i/rate whatever happened to the others, and its
    latency counts from when it was due, so a stall shows in the tail (no coordinated omission)."""
    run = uuid.uuid4().hex[:8]
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await KeepAliveConnection.open(host, port))
    latencies: list[float] = []
    errors = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors
        raw = post_request(host, port, "/v1/posts", api_key,
                           orjson.dumps({"author_id": f"r{run}-{i % 1000}", "text": TEXT}))
        conn = await pool.get()
        try:
            if await conn.request(raw) != 202:
                errors += 1
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - due)

    tasks = []
    n = int(rate * seconds)
    # The generator's own collector must not pause it: with 10,000 tasks alive a full collection
    # stalled this loop for ~20 ms, and the requests due meanwhile counted that against the server.
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        achieved = n / (time.perf_counter() - start)
    finally:
        gc.enable()
    while not pool.empty():
        pool.get_nowait().close()
    latencies.sort()
    return {"generator": "python, raw keep-alive connections, open loop", "target_per_s": rate,
            "achieved_per_s": round(achieved), "requests": n, "errors": errors,
            "p50_ms": round(percentile(latencies, .5) * 1e3, 2), "p99_ms": round(percentile(latencies, .99) * 1e3, 2)}


async def batches(session, url, headers, seconds: float, batch_size: int, concurrency: int) -> dict:
    posts = 0
    errors = 0
    run = uuid.uuid4().hex[:8]
    # Each client's body is built once (the posts carry no ids: ingest assigns fresh ones). Building
    # it per request took a fifth of a core from the server being measured.
    bodies = [orjson.dumps([{"author_id": f"B{run}-{w}-{j % 100}", "text": TEXT} for j in range(batch_size)])
              for w in range(concurrency)]

    async def one(w: int, i: int) -> None:
        nonlocal posts, errors
        async with session.post(url, data=bodies[w], headers=headers) as r:
            payload = await r.json()
            if r.status == 202:
                posts += payload["accepted"]
            else:
                errors += 1

    latencies, elapsed = await closed_loop(concurrency, seconds, one)
    return {"batch_size": batch_size, "concurrency": concurrency, "posts": posts, "errors": errors,
            "posts_per_s": round(posts / elapsed), "batch_p50_ms": round(percentile(latencies, .5) * 1e3, 1),
            "batch_p99_ms": round(percentile(latencies, .99) * 1e3, 1)}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--batch-clients", type=int, default=4,
                    help="concurrent batch clients; with few, the kernel's SO_REUSEPORT hash can give one "
                         "worker most of them")
    ap.add_argument("--only", nargs="+", choices=("single", "rate", "batch"), default=["single", "rate", "batch"],
                    help="run only these measurements")
    args = ap.parse_args()
    base = f"http://127.0.0.1:{port_of('ingest')}"
    headers = {"Authorization": f"Bearer {first_api_key()}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        out = {"memory_before_mib": stack_memory()}
        if "single" in args.only:
            if shutil.which("wrk"):
                out["single_max"] = await asyncio.to_thread(single_posts_max_wrk, base, first_api_key(),
                                                            args.seconds, args.concurrency)
            else:
                print("wrk not found (deploy/setup.sh installs it): measuring with the Python client", file=sys.stderr)
                out["single_max"] = await single_posts_max(session, base + "/v1/posts", headers, args.seconds,
                                                           args.concurrency)
        if "rate" in args.only:
            out["single_at_rate"] = await single_posts_at_rate("127.0.0.1", port_of("ingest"), first_api_key(),
                                                               args.rate, args.seconds)
        if "batch" in args.only:
            out["batch"] = await batches(session, base + "/v1/posts/batch", headers, args.seconds, args.batch_size,
                                         args.batch_clients)
        out["memory_after_mib"] = stack_memory()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    uvloop.run(main())
