"""The ingest runs as a supervisor and GOALPOST_INGEST_WORKERS worker processes sharing its port
(services/core/workers.py): a scrape of the port counts every worker's requests, and a worker
killed with SIGKILL is started again while the others keep answering."""
import os
import re
import signal
import time

from services.core.settings import Settings
from services.tools import stack
from tests.integration.conftest import wait_for

WORKERS = Settings(service="ingest").workers


def _ingest_processes() -> list[int]:
    return stack.group_pids(stack._pid("ingest"))


def _accepted_over_http(http) -> float:
    status, text = http.get("ingest", "/metrics")
    assert status == 200
    found = re.search(r'^goalpost_http_requests_total\{route="/v1/posts",service="ingest",status="202"\} (\S+)$',
                      text, re.M)
    return float(found.group(1)) if found else 0.0


def test_the_ingest_runs_its_configured_workers():
    assert WORKERS >= 2, "the local stack is meant to run ingest with several workers"
    assert len(_ingest_processes()) == WORKERS + 1  # the supervisor and its workers


def test_every_scrape_counts_the_requests_of_every_worker(http, run_id):
    before = _accepted_over_http(http)
    for i in range(20):  # each request on a new connection: the kernel spreads them over the workers
        assert http.post("ingest", "/v1/posts", {"author_id": f"{run_id}:u{i}", "text": f"question {i}?"})[0] == 202
    # A scrape is answered by one worker; each must report all 20 (one worker alone would see
    # about half of them).
    assert [_accepted_over_http(http) - before for _ in range(6)] == [20.0] * 6


def test_a_killed_worker_is_started_again_and_the_service_keeps_answering(http, run_id):
    supervisor = stack._pid("ingest")
    workers = [p for p in _ingest_processes() if p != supervisor]
    os.kill(workers[0], signal.SIGKILL)
    # Connections the kernel had queued on the killed worker's socket are reset (nothing on them
    # was acknowledged); once it is gone, the other worker takes every new one.
    wait_for(lambda: workers[0] not in _ingest_processes(), timeout=10, what="the killed worker gone")
    for i in range(10):
        assert http.post("ingest", "/v1/posts", {"author_id": f"{run_id}:u", "text": f"still there {i}?"})[0] == 202
    restarted = wait_for(lambda: (lambda now: now if len(now) == WORKERS + 1 and workers[0] not in now else None)(
        _ingest_processes()), timeout=30, what="the killed worker replaced")
    assert stack._pid("ingest") == supervisor and workers[1] in restarted
    wait_for(lambda: stack._healthy("ingest"), timeout=30, what="ingest ready")


def _resident_bytes(pids: list[int]) -> list[int]:
    page = os.sysconf("SC_PAGE_SIZE")
    return [int(open(f"/proc/{p}/statm").read().split()[1]) * page for p in pids]


def test_metrics_report_the_memory_of_all_the_ingest_processes(http):
    """The budget is the service's, and with several workers no one process's metrics show it."""
    for _ in range(20):  # a worker restarted by the test above grows while it starts: wait for calm
        before = sum(_resident_bytes(_ingest_processes()))
        status, text = http.get("ingest", "/metrics")
        assert status == 200
        after = _resident_bytes(_ingest_processes())
        if abs(sum(after) - before) < 0.02 * before:
            break
        time.sleep(0.5)
    found = re.search(r'^goalpost_service_resident_memory_bytes\{service="ingest"\} (\S+)$', text, re.M)
    assert found, "the ingest does not export its resident memory"
    reported = float(found.group(1))
    assert abs(reported - sum(after)) < 0.1 * sum(after)
    others = sum(after) - max(after)  # all of them, not only the worker that answered the scrape
    assert reported > max(after) + 0.5 * others
