"""goalpost_service_resident_memory_bytes (services/core/metrics.py): the resident memory of a
service's processes together, the figure its budget and the GoalpostMemoryOverBudget alert are
about. Checked with real processes: a supervisor (services/core/workers.py) and stand-in workers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from services.core import metrics

ROOT = Path(__file__).resolve().parents[2]
# A stand-in worker: writes what the collector sees from inside it, then sleeps until killed.
WORKER = ("import json, os, sys, time\n"
          "from services.core import metrics\n"
          "pids = metrics.service_pids()\n"
          "total = sum(metrics.resident_bytes(p) for p in pids)\n"
          "out = os.path.join(sys.argv[1], str(os.getpid()))\n"
          "open(out + '.tmp', 'w').write(json.dumps({'pids': pids, 'total': total}))\n"
          "os.rename(out + '.tmp', out)\n"
          "time.sleep(60)\n")


def scrape(collector: metrics.ServiceMemory) -> float:
    registry = CollectorRegistry()
    registry.register(collector)
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("goalpost_service_resident_memory_bytes{"):
            return float(line.split()[-1])
    raise AssertionError("the gauge is missing")


def test_a_single_process_service_counts_itself(monkeypatch):
    monkeypatch.delenv("GOALPOST_WORKER", raising=False)
    assert metrics.service_pids() == [os.getpid()]
    own = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    assert abs(scrape(metrics.ServiceMemory("demo")) - own) < 0.2 * own


def test_a_worker_counts_its_supervisor_and_every_worker(tmp_path):
    argv = [sys.executable, "-c", WORKER, str(tmp_path)]
    code = f"import sys; from services.core.workers import Supervisor; sys.exit(Supervisor('demo', 2, {argv!r}).run())"
    sup = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while len([f for f in tmp_path.iterdir() if not f.name.endswith(".tmp")]) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        seen = {int(f.name): json.loads(f.read_text()) for f in tmp_path.iterdir() if not f.name.endswith(".tmp")}
        workers = set(seen)
        for view in seen.values():
            # the second worker may not have started when the first looked: it sees itself at least
            assert sup.pid in view["pids"] and set(view["pids"]) - {sup.pid} <= workers
            assert len(view["pids"]) >= 2
            # every process here is a Python interpreter: several MiB each
            assert view["total"] > len(view["pids"]) * 5 * 2 ** 20
        assert any(set(view["pids"]) == workers | {sup.pid} for view in seen.values())
    finally:
        sup.terminate()
        sup.wait(10)
