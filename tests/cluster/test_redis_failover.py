"""A Redis Cluster of three masters with a replica each (`goalpost stack up --redis-cluster`):
the master holding ingest's, classify's and match's keys is killed with SIGKILL under load.
Its replica takes over; meanwhile ingest answers 503 with Retry-After, never another 5xx; every
acknowledged post is classified and every goal and request matched, the ledger journals no
entry twice and verifies, and the services recover without a restart."""
import os
import signal
import time

from services.core.settings import env
from services.tools import redis_cluster, stack
from tests.cluster.load import PacedWriter, assert_recovered_without_restart
from tests.integration.conftest import read_topic, wait_for


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
    writer = PacedWriter(http, f"{run_id}:redis", "How do I keep a sourdough starter alive on holiday")

    first = redis_port()
    master = redis_cluster.master_of(first, "{ingest}:x")
    assert master is not None
    victim = node_on(master)
    witness = next(p for p in range(first, first + redis_cluster.NODES) if p != master)
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
        writer.stop()
    writer.check_answers()
    classified = writer.all_classified()
    routed = {p for p in writer.acked if classified[p]["intent"] in ("goal", "request")}
    assert routed, "the load should hold requests"
    wait_for(lambda: routed <= {m["post_id"] for m in read_topic("matches.v1", lambda m: m["post_id"].startswith(writer.prefix))},
             timeout=180, interval=2, what="every goal and request matched")
    assert_recovered_without_restart()
