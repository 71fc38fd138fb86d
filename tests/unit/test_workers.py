"""The supervisor of a service's worker processes (services/core/workers.py), with stand-in
worker commands: no Kafka or Redis needed. Each test runs a supervisor as a process of its own,
as `python -m services.<name>` would."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from services.core.workers import MAX_RESTARTS

ROOT = Path(__file__).resolve().parents[2]
# A stand-in worker: records its index, pid and metrics directory in a file, then sleeps.
WORKER = ("import os, sys, time\n"
          "name = os.path.join(sys.argv[1], os.environ['GOALPOST_WORKER'] + '-' + str(os.getpid()))\n"
          "open(name, 'w').write(os.environ['PROMETHEUS_MULTIPROC_DIR'])\n"
          "time.sleep(float(sys.argv[2]))\n")


def start_supervisor(tmp_path: Path, workers: int, worker_lives_s: float) -> subprocess.Popen:
    argv = [sys.executable, "-c", WORKER, str(tmp_path), str(worker_lives_s)]
    code = f"import sys; from services.core.workers import Supervisor; sys.exit(Supervisor('demo', {workers}, {argv!r}).run())"
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.DEVNULL)


def started(tmp_path: Path, at_least: int, timeout_s: float = 10) -> list[tuple[str, int, str]]:
    """(worker index, pid, metrics dir) of every worker started so far."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = sorted(tmp_path.iterdir())
        if len(files) >= at_least and all(f.read_text() for f in files):
            return [(f.name.split("-")[0], int(f.name.split("-")[1]), f.read_text()) for f in files]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} workers started: {sorted(p.name for p in tmp_path.iterdir())}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def wait_gone(pids: list[int], timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return not any(alive(p) for p in pids)


def test_workers_share_one_metrics_directory_and_stop_with_sigterm(tmp_path):
    sup = start_supervisor(tmp_path, 2, 60)
    workers = started(tmp_path, 2)
    assert sorted(index for index, _, _ in workers) == ["0", "1"]
    metrics_dirs = {d for _, _, d in workers}
    assert len(metrics_dirs) == 1 and Path(metrics_dirs.pop()).is_dir()
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(10) == 0
    assert wait_gone([pid for _, pid, _ in workers])
    assert not Path(workers[0][2]).exists()  # the supervisor removed the metrics directory


def test_a_worker_that_exits_is_started_again_and_one_that_keeps_exiting_stops_the_service(tmp_path):
    sup = start_supervisor(tmp_path, 1, 0)  # each worker exits at once
    assert sup.wait(30) == 1  # given up, with a failure status for the operator's restarter
    assert len(started(tmp_path, MAX_RESTARTS + 1)) == MAX_RESTARTS + 1  # the first start and the restarts


def test_workers_die_with_a_killed_supervisor(tmp_path):
    sup = start_supervisor(tmp_path, 2, 60)
    workers = started(tmp_path, 2)
    sup.kill()
    sup.wait(5)
    assert wait_gone([pid for _, pid, _ in workers])  # none left holding the service's port
