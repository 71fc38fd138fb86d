"""The load of the cluster tests (batches of posts through the ingest's batch route at a fixed
rate, recording what was acknowledged and every answer) and the checks after a loss."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from services.ledger import admin
from services.tools import stack
from tests.integration.conftest import read_topic, wait_for


class PacedWriter(threading.Thread):
    """Posts `batch`-post batches at `rate` posts/s (offered on a schedule, so a slow answer is
    followed by the batches it delayed) until stopped."""

    def __init__(self, http: Any, prefix: str, text: str, rate: float = 1000.0, batch: int = 50):
        super().__init__(daemon=True)
        self.http, self.prefix, self.text, self.rate, self.batch = http, prefix, text, rate, batch
        self.acked: list[str] = []
        self.statuses: list[int] = []
        self.retry_after: list[Any] = []  # the Retry-After header of each 503
        self.done = threading.Event()
        self.seconds = 0.0

    def run(self) -> None:
        n = 0
        started = next_at = time.monotonic()
        while not self.done.is_set():
            posts = [{"post_id": f"{self.prefix}:p{n + i}", "author_id": f"{self.prefix}:u{(n + i) % 50}",
                      "text": f"{self.text}, take {n + i}?"} for i in range(self.batch)]
            status, headers, body = self.http.request("POST", "ingest", "/v1/posts/batch", posts)
            self.statuses.append(status)
            if status == 503:
                self.retry_after.append(headers.get("Retry-After"))
            if status == 202:
                self.acked.extend(r["post_id"] for r in body["results"] if r["status"] in ("accepted", "duplicate"))
                n += self.batch
            next_at += self.batch / self.rate
            time.sleep(max(0.0, next_at - time.monotonic()))
        self.seconds = time.monotonic() - started

    def stop(self) -> None:
        self.done.set()
        self.join()
        print(f"load: {len(self.acked)} posts acknowledged in {self.seconds:.0f} s "
              f"({len(self.acked) / max(self.seconds, 1e-9):.0f}/s of {self.rate:.0f}/s offered), "
              f"{self.statuses.count(503)} answers of 503")

    def all_classified(self) -> dict[str, dict]:
        """Waits until every acknowledged post is on posts.classified.v1; its records by post id."""
        wanted = set(self.acked)
        return wait_for(lambda: (lambda got: got if wanted <= set(got) else None)(
            {r["post_id"]: r for r in read_topic("posts.classified.v1", lambda r: r["post_id"].startswith(self.prefix))}),
            timeout=180, interval=2, what="every acknowledged post classified")

    def check_answers(self) -> None:
        """Only 202 and 503, every 503 with a Retry-After; something acknowledged."""
        assert self.acked, "nothing was acknowledged"
        assert all(s in (202, 503) for s in self.statuses), f"answers other than 202 and 503: {set(self.statuses)}"
        assert all(r is not None and int(r) >= 1 for r in self.retry_after), f"a 503 without Retry-After: {self.retry_after}"


def assert_recovered_without_restart() -> None:
    """After a loss: every service ready again on its own, no ledger entry journalled twice,
    and `ledger verify` agrees."""
    wait_for(lambda: all(stack._healthy(s) for s in stack.SERVICES), timeout=60, what="every service ready")
    entries = read_topic("ledger.entries.v1", lambda r: True)
    assert len({e["entry_id"] for e in entries}) == len(entries), "an entry was journalled twice"
    assert asyncio.run(admin.verify()) == 0
