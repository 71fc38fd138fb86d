"""Helpers of the benchmarks: closed-loop clients, percentiles and the resident memory of the
stack's processes."""
from __future__ import annotations

import asyncio
import os
import time
from typing import Awaitable, Callable

from services.tools import stack


async def closed_loop(concurrency: int, seconds: float,
                      request: Callable[[int, int], Awaitable[None]]) -> tuple[list[float], float]:
    """`concurrency` workers each call `await request(worker, i)` (i = 0, 1, ...) one after the
    other until `seconds` have passed. Returns the sorted latencies of the calls (s) and the
    elapsed time (s)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await request(w, i)
            latencies.append(time.perf_counter() - t0)
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return latencies, elapsed


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stack_memory() -> dict[str, float]:
    """Resident MiB of each service of the local stack, all its processes together (and the
    broker, for scale)."""
    out = {}
    for name in ("ingest", "classify", "match", "ledger", "kafka", "redis"):
        pid = stack._pid(name)
        if pid:
            out[name] = round(sum(rss_mib(p) for p in stack.group_pids(pid)), 1)
    return out


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_cpu() -> dict[str, float]:
    """CPU seconds used so far by each process of the local stack (a service's workers summed),
    to take the difference over a benchmark: what each part costs per record."""
    out = {}
    for name in ("ingest", "classify", "match", "ledger", "kafka", "redis"):
        pid = stack._pid(name)
        if pid:
            out[name] = sum(cpu_seconds(p) for p in stack.group_pids(pid))
    return out
