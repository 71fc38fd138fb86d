"""The broker goes away and comes back (named to run last: it disturbs every service).
While it is down the ingest answers 503 quickly and acknowledges nothing; what it acknowledged
before is still there afterwards, the pipeline flows again without any service restarted, and
the ledger's balances still equal its journal."""
import asyncio
import os
import signal
import time

from services.ledger import admin
from services.tools import stack
from tests.integration.conftest import read_topic, wait_for
from tests.integration.ledger_load import ledger_lag


def test_broker_outage_gives_503_and_loses_nothing_acknowledged(http, run_id):
    author = f"{run_id}:u"
    before = {"post_id": f"{run_id}:before", "author_id": author, "text": "How do I fix a flat tyre?"}
    assert http.post("ingest", "/v1/posts", before)[0] == 202
    # every process of each service, a supervised service's workers included
    pids = {s: stack.group_pids(stack._pid(s)) for s in ("ingest", "classify", "match", "ledger")}

    os.kill(stack._pid("kafka"), signal.SIGKILL)
    wait_for(lambda: stack._pid("kafka") is None, timeout=10, what="the broker to die")
    started = time.monotonic()
    status, problem = http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:during", "author_id": author,
                                                        "text": "Is anyone there?"})
    assert status == 503 and time.monotonic() - started < 5
    assert "Retry-After" in http.request("POST", "ingest", "/v1/posts", {"author_id": author, "text": "x"})[1]
    assert http.get("ingest", "/readyz")[0] == 503

    stack.start_kafka()
    for service in pids:
        wait_for(lambda s=service: stack._healthy(s), timeout=90, what=f"{service} ready after the outage")
    assert {s: stack.group_pids(stack._pid(s)) for s in pids} == pids, "a service or worker had to be restarted"

    after = {"post_id": f"{run_id}:after", "author_id": author, "text": "What tyre pressure for a road bike?"}
    assert http.post("ingest", "/v1/posts", after)[0] == 202
    classified = wait_for(lambda: (lambda r: r if len(r) >= 2 else None)(read_topic(
        "posts.classified.v1", lambda r: r["post_id"] in (before["post_id"], after["post_id"]))),
        timeout=150, what="both acknowledged posts classified")
    assert sorted(r["post_id"] for r in classified) == sorted([before["post_id"], after["post_id"]])
    # The ledger went through the outage inside its transactions: its views still equal the journal.
    wait_for(lambda: ledger_lag() == 0, timeout=90, what="the ledger to commit all its input")
    assert asyncio.run(admin.verify()) == 0
