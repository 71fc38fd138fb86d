"""`goalpost stack up` waiting for a service (services/tools/stack.py, wait_ready): past its timeout
it goes on waiting only while the service says it is rebuilding its state, and a service whose
process is gone fails at once. A real HTTP server on loopback stands in for the service's /readyz."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.core.settings import STATE_NOT_RECOVERED
from services.tools import stack


class FakeService:
    """Answers /readyz with `problems` until `ready_at` (monotonic), then 200."""

    def __init__(self, problems: list[str], ready_after_s: float):
        self.problems, self.ready_at = problems, time.monotonic() + ready_after_s
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                problems = [] if time.monotonic() >= fake.ready_at else fake.problems
                body = json.dumps({"ready": not problems, "problems": problems}).encode()
                self.send_response(503 if problems else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service(monkeypatch, tmp_path):
    made = []

    def make(problems: list[str], ready_after_s: float, alive: bool = True) -> FakeService:
        fake = FakeService(problems, ready_after_s)
        made.append(fake)
        monkeypatch.setattr(stack, "port_of", lambda name: fake.port)
        monkeypatch.setattr(stack, "_pid", lambda name: 4242 if alive else None)
        monkeypatch.setattr(stack, "state_dir", lambda: tmp_path)
        return fake

    yield make
    for fake in made:
        fake.close()


def test_a_service_rebuilding_its_state_is_waited_for_past_the_timeout(service):
    service([STATE_NOT_RECOVERED], ready_after_s=1.5)
    started = time.monotonic()
    stack.wait_ready("match", timeout=0.5, recovery_limit=10)
    assert 1.4 < time.monotonic() - started < 5


def test_a_service_not_ready_for_another_reason_fails_at_the_timeout(service):
    service(["redis unreachable: ConnectionError", STATE_NOT_RECOVERED], ready_after_s=60)
    started = time.monotonic()
    with pytest.raises(stack.StackError, match="redis unreachable"):
        stack.wait_ready("match", timeout=0.5, recovery_limit=10)
    assert time.monotonic() - started < 3


def test_a_rebuild_longer_than_the_limit_fails(service):
    service([STATE_NOT_RECOVERED], ready_after_s=60)
    with pytest.raises(stack.StackError, match=STATE_NOT_RECOVERED):
        stack.wait_ready("match", timeout=0.3, recovery_limit=1)


def test_a_service_whose_process_is_gone_fails_at_once(service):
    service([STATE_NOT_RECOVERED], ready_after_s=60, alive=False)
    started = time.monotonic()
    with pytest.raises(stack.StackError, match="exited while starting"):
        stack.wait_ready("match", timeout=30, recovery_limit=60)
    assert time.monotonic() - started < 2


def test_a_killed_process_not_yet_reaped_is_not_running(tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import time

    from services.tools import stack
    # A grandchild whose parent never reaps it: killed, it stays a zombie that is not ours.
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & echo $!; exec sleep 60"], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert stack.process_state(pid) not in (None, "Z")  # alive: running, sleeping, or still loading (D)
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):
            if stack.process_state(pid) in ("Z", None):
                break
            time.sleep(0.01)
        state = stack.process_state(pid)
        assert state in ("Z", None)  # a zombie, or reaped already (a busy machine's init may get there first)
        if state == "Z":
            os.kill(pid, 0)  # a zombie still answers kill 0: why _pid reads its state
        monkeypatch.setattr(stack, "state_dir", lambda: tmp_path)
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "svc.pid").write_text(str(pid))
        assert stack._pid("svc") is None
        (tmp_path / "pids" / "svc.pid").write_text(str(parent.pid))
        assert stack._pid("svc") == parent.pid  # a live one is running
    finally:
        parent.kill()
        parent.wait()


def test_a_port_still_held_by_a_dead_member_is_waited_for_not_taken_as_up(tmp_path, monkeypatch):
    """A broker killed with SIGKILL is a zombie while its threads still close its sockets: `up`
    must wait for its port to close and start it again, not take it for running."""
    import socket
    monkeypatch.setenv("GOALPOST_STATE_DIR", str(tmp_path))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    (stack.state_dir() / "pids" / "kafka.pid").write_text("999999999")  # no such process: it died
    threading.Timer(0.5, listener.close).start()
    started = time.monotonic()
    assert not stack.answering("kafka", "127.0.0.1", port, timeout=5)
    assert 0.4 < time.monotonic() - started < 4
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen()
    try:  # a port answering for a process that is not one of ours is up, at once
        assert stack.answering("redis", "127.0.0.1", other.getsockname()[1], timeout=5)
    finally:
        other.close()
