"""A Redis Cluster of three masters with a replica each (`goalpost stack up --redis-cluster`):
the master holding ingest's, classify's and match's keys is killed with SIGKILL under load.
Its replica takes over; meanwhile ingest answers 503 with Retry-After, never another 5xx; every
acknowledged post is classified and every goal and request matched, the ledger journals no
entry twice and verifies, and the services recover without a restart."""
import asyncio
import os
import signal
import threading
import time

from services.core.settings import env
from services.ledger import admin
from services.tools import redis_cluster, stack
from tests.integration.conftest import read_topic, wait_for

POSTS_PER_BATCH = 50


def redis_port() -> int:
    return int(env("GOALPOST_REDIS_URL").split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def node_on(port: int) -> str:
    return redis_cluster.node_names()[port - redis_port()]


def test_the_services_use_the_cluster():
    assert stack.redis_cluster(), "run against `goalpost stack up --redis-cluster`"
    ports = [redis_port() + i for i in range(redis_cluster.NODES)]
    assert all(redis_cluster.cluster_info(p).get("cluster_state") == "ok" for p in ports)
    assert len({redis_cluster.master_of(ports[0], f"{{{tag}}}:x") for tag in ("ingest", "match")}) == 1


def test_a_redis_master_killed_under_load_loses_no_acknowledged_post(http, run_id):
    acked: list[str] = []
    statuses: list[int] = []
    retry_after: list = []
    stop = threading.Event()

    def load() -> None:
        n = 0
        while not stop.is_set():
            batch = [{"post_id": f"{run_id}:q{n + i}", "author_id": f"{run_id}:u{(n + i) % 40}",
                      "text": f"How do I keep a sourdough starter alive on holiday, take {n + i}?"}
                     for i in range(POSTS_PER_BATCH)]
            status, headers, body = http.request("POST", "ingest", "/v1/posts/batch", batch)
            statuses.append(status)
            if status == 503:
                retry_after.append(headers.get("Retry-After"))
            if status == 202:
                acked.extend(r["post_id"] for r in body["results"] if r["status"] in ("accepted", "duplicate"))
                n += POSTS_PER_BATCH
            time.sleep(0.05)

    first = redis_port()
    master = redis_cluster.master_of(first, "{ingest}:x")
    assert master is not None
    victim = node_on(master)
    witness = next(p for p in range(first, first + redis_cluster.NODES) if p != master)
    writer = threading.Thread(target=load)
    writer.start()
    try:
        time.sleep(5)
        os.killpg(stack._pid(victim), signal.SIGKILL)
        wait_for(lambda: stack._pid(victim) is None, timeout=10, what="the Redis master to die")
        wait_for(lambda: redis_cluster.master_of(witness, "{ingest}:x") not in (None, master), timeout=30,
                 what="a replica to take over the slots of the killed master")
        time.sleep(8)  # load goes on against the promoted replica
        stack.start_redis()  # the killed node comes back as a replica
        time.sleep(3)
    finally:
        stop.set()
        writer.join()
    assert acked, "nothing was acknowledged"
    assert all(s in (202, 503) for s in statuses), f"answers other than 202 and 503: {set(statuses)}"
    assert all(r is not None and int(r) >= 1 for r in retry_after), f"a 503 without Retry-After: {retry_after}"
    wanted = set(acked)
    classified = wait_for(lambda: (lambda got: got if wanted <= set(got) else None)(
        {r["post_id"]: r for r in read_topic("posts.classified.v1", lambda r: r["post_id"].startswith(run_id))}),
        timeout=180, interval=2, what="every acknowledged post classified")
    routed = {p for p in wanted if classified[p]["intent"] in ("goal", "request")}
    assert routed, "the load should hold requests"
    wait_for(lambda: routed <= {m["post_id"] for m in read_topic("matches.v1", lambda m: m["post_id"].startswith(run_id))},
             timeout=180, interval=2, what="every goal and request matched")
    wait_for(lambda: all(stack._healthy(s) for s in stack.SERVICES), timeout=60, what="every service ready")
    entries = read_topic("ledger.entries.v1", lambda r: True)
    assert len({e["entry_id"] for e in entries}) == len(entries), "an entry was journalled twice"
    assert asyncio.run(admin.verify()) == 0
