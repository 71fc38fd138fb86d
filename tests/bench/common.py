"""Helpers of the benchmarks: percentiles and the resident memory of the stack's processes."""
from __future__ import annotations

from services.core import stack


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
    """Resident MiB of each service process of the local stack (and the broker, for scale)."""
    out = {}
    for name in ("ingest", "classify", "match", "ledger", "kafka", "redis"):
        pid = stack._pid(name)
        if pid:
            out[name] = round(rss_mib(pid), 1)
    return out
