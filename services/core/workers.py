"""Several worker processes of one service behind its one port.

One Python process is one core at most, and a 2-core machine runs ingest about twice as fast
with two of them (docs/benchmarks.md). `python -m services.<name>` with GOALPOST_<NAME>_WORKERS
above 1 becomes a small supervisor that starts that many worker processes and does nothing
else: no faust, no Kafka, no Redis of its own.

- The workers bind the same port with SO_REUSEPORT; the kernel spreads connections over them.
- Their consumers join the service's consumer group, so Kafka spreads the partitions too.
- Their metrics go to a shared directory (prometheus_client's multiprocess mode), so a scrape of
  the port counts all workers, whichever one answers it.
- A worker that dies is started again after a pause; a worker dies with its supervisor
  (PR_SET_PDEATHSIG), so a kill -9 of the service kills all of it, as it would a single process.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable

WORKER_ENV = "GOALPOST_WORKER"  # a worker's index; its presence says "run the service here"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when it is imported
RESTART_PAUSE_S = 1.0
MAX_RESTARTS = 5  # within RESTART_WINDOW_S: a worker that cannot stay up is a failed service
RESTART_WINDOW_S = 60.0
_PR_SET_PDEATHSIG = 1


def worker_index() -> int:
    return int(os.environ.get(WORKER_ENV, "0"))


def serve(service: str, workers: int, run_worker: Callable[[], None]) -> None:
    """Runs the service in this process (one worker, or inside a supervisor's worker), or
    supervises `workers` processes of it."""
    if workers <= 1 or WORKER_ENV in os.environ:
        run_worker()
    else:
        sys.exit(Supervisor(service, workers).run())


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGKILL when the supervisor goes away."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _say(service: str, msg: str, **fields) -> None:
    """The supervisor's log lines, in the same JSON shape as the workers' (it has no logging set up)."""
    line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "info",
            "service": service, "logger": "goalpost.workers", "msg": msg, **fields}
    print(json.dumps(line), file=sys.stderr, flush=True)


class Supervisor:
    def __init__(self, service: str, workers: int, argv: list[str] | None = None):
        self.service = service
        self.workers = workers
        self.argv = argv or [sys.executable, "-m", f"services.{service}"]  # a worker's command
        self.procs: dict[int, subprocess.Popen] = {}  # worker index -> process
        self.restarts: list[float] = []
        self.stopping = False
        self.metrics_dir = tempfile.mkdtemp(prefix=f"goalpost-{service}-metrics-")

    def _start(self, index: int) -> None:
        env = {**os.environ, WORKER_ENV: str(index), METRICS_DIR_ENV: self.metrics_dir}
        self.procs[index] = subprocess.Popen(self.argv, env=env, preexec_fn=_die_with_parent)
        _say(self.service, "worker started", worker=index, pid=self.procs[index].pid)

    def _stop(self, signum: int, _frame) -> None:
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            for index in range(self.workers):
                self._start(index)
            while not self.stopping:
                time.sleep(0.5)
                for index, proc in list(self.procs.items()):
                    if proc.poll() is not None and not self.stopping:
                        if not self._restart(index, proc):
                            return 1
            return self._wait_all()
        finally:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _restart(self, index: int, dead: subprocess.Popen) -> bool:
        from prometheus_client import multiprocess  # only now: the supervisor exports no metrics itself

        multiprocess.mark_process_dead(dead.pid, self.metrics_dir)  # its live gauges stop counting
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
        _say(self.service, "worker exited", worker=index, pid=dead.pid, returncode=dead.returncode)
        if len(self.restarts) > MAX_RESTARTS:
            _say(self.service, "workers keep exiting; stopping the service", restarts=len(self.restarts))
            self._stop(signal.SIGTERM, None)
            self._wait_all()
            return False
        time.sleep(RESTART_PAUSE_S)
        if not self.stopping:  # a stop may have come during the pause
            self._start(index)
        return True

    def _wait_all(self, timeout_s: float = 25.0) -> int:
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return 0
