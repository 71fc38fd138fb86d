"""Fault injection on the real stack, run by `make faults` (a fresh stack of its own): during a
replay, each service in turn is killed with SIGKILL and restarted, and the broker is restarted
once. Afterwards every acknowledged post is on posts.classified.v1 (at least once: classify and
match are at-least-once stages, so repeats are counted and reported, never lost; runs so far
counted none), every goal or request has a match, and the ledger (exactly once) has balances
equal to the offline computation by the same rules. It takes about a minute and restarts the
broker, so it is a command of its own rather than part of every `make test`: with faust's
consumer a dead member's partitions sometimes took minutes to come back after a broker restart;
since the services run their own aiokafka consumers it has passed every run (docs/benchmarks.md)."""
import asyncio
import os
import signal
import threading
import time

from services.ledger import admin
from services.tools import stack
from tests.integration.conftest import wait_for
from tests.integration.ledger_load import (
    journal,
    ledger_lag,
    load_with_extra_reactions,
    offline_balances,
    send_all,
    topic_records,
)

VICTIMS = ("classify", "match", "ledger", "ingest", "kafka")


def inject_faults(done: threading.Event, every_s: float) -> None:
    for victim in VICTIMS:
        if done.wait(every_s):
            return
        pid = stack._pid(victim)
        assert pid, f"{victim} is not running"
        os.killpg(pid, signal.SIGKILL)
        while stack._pid(victim):
            time.sleep(0.05)
        if victim == "kafka":
            stack.start_kafka()
        else:
            stack.start_service(victim)


def test_kill_each_service_and_restart_the_broker_during_a_replay(run_id):
    prefix = f"{run_id}/"
    events = load_with_extra_reactions("coffee", prefix, seed=11)
    done = threading.Event()
    injector = threading.Thread(target=inject_faults, args=(done, 1.2))
    injector.start()
    try:
        acked = send_all(events, retry_unavailable=True)
    finally:
        done.set()
        injector.join()
    for service in ("ingest", "classify", "match", "ledger"):
        wait_for(lambda s=service: stack._healthy(s), timeout=180, what=f"{service} ready again")

    posts = [e for e in events if e["type"] == "post"]
    assert acked["posts"] == len(posts)
    want = {p["post_id"] for p in posts}
    classified = wait_for(lambda: (lambda r: r if {x["post_id"] for x in r} >= want else None)(
        topic_records("posts.classified.v1", prefix)), timeout=180, what="every acknowledged post classified")
    repeats = len(classified) - len({x["post_id"] for x in classified})
    print(f"posts.classified.v1: {len(want)} posts, {repeats} delivered twice (at least once)")

    roots = {x["post_id"] for x in classified if x["reply_to"] is None and x["intent"] in ("goal", "request")}
    matched = wait_for(lambda: (lambda r: r if {m["post_id"] for m in r} >= roots else None)(
        topic_records("matches.v1", prefix)), timeout=180, what="a match for every goal and request")
    assert {m["post_id"] for m in matched} >= roots

    wait_for(lambda: ledger_lag() == 0, timeout=180, what="the ledger to commit all its input")
    balances, n_entries, n_distinct = journal(prefix)
    assert n_entries == n_distinct, "a ledger entry was written twice"
    assert balances == offline_balances(events, matched, prefix)
    assert asyncio.run(admin.verify()) == 0
