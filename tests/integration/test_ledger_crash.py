"""Exactly once on the real stack: replay a Stack Exchange file with extra reactions while a
ledger worker is killed with SIGKILL several times (with GOALPOST_LEDGER_WORKERS=2, worker 1
and worker 0, which runs the resolver, in turn); afterwards no entry is lost or counted twice,
`goalpost ledger verify` agrees, every balance equals the offline computation, and each
restarted worker was processing again within 10 s."""
import asyncio
import json
import os
import signal
import threading
import time
import urllib.request

import pytest
import redis

from services.core.settings import env
from services.ledger import admin
from services.ledger.views import RECENT_ENTRIES, view_key
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

TAKEOVER_S = 10.0  # a restarted worker has its partitions' state back and is ready within this


def kill_ledger_repeatedly(times: int, every_s: float, done: threading.Event, kills: list, takeovers: list) -> None:
    """Kills a ledger worker every `every_s` and starts it again at once: the last worker
    first, then the others in turn (worker 0 runs the resolver). For each restart, a watcher
    records how long the worker took to be ready (state restored, processing) unless it was
    killed again before."""
    workers = stack.members(("ledger",))
    victims = [workers[-1 - i % len(workers)] for i in range(times)]
    watchers = []
    for victim in victims:
        if done.wait(every_s):
            break
        kills.append(victim)
        pid = stack._pid(victim)
        assert pid, f"{victim} is not running"
        os.killpg(pid, signal.SIGKILL)
        while stack._pid(victim):
            time.sleep(0.05)
        stack.start_service(victim)
        watcher = threading.Thread(target=time_to_ready, args=(victim, stack._pid(victim), takeovers))
        watcher.start()
        watchers.append(watcher)
    for watcher in watchers:
        watcher.join()


def time_to_ready(name: str, pid: int, takeovers: list) -> None:
    started = time.monotonic()
    while time.monotonic() - started < 120 and stack._pid(name) == pid:
        if stack._healthy(name):
            takeovers.append((name, time.monotonic() - started))
            return
        time.sleep(0.1)


@pytest.mark.integration
def test_ledger_survives_kill_9_without_loss_or_double_counting(run_id):
    prefix = f"{run_id}/"
    events = load_with_extra_reactions("coffee", prefix)
    assert sum(e["type"] == "reaction" for e in events) > 150
    done = threading.Event()
    kills: list = []
    takeovers: list = []
    killer = threading.Thread(target=kill_ledger_repeatedly, args=(3, 1.5, done, kills, takeovers))
    killer.start()
    try:
        send_all(events)
    finally:
        done.set()
        killer.join()
    # The pipeline drains: every post classified, then the ledger has committed all its input.
    n_posts = sum(e["type"] == "post" for e in events)
    wait_for(lambda: len(topic_records("posts.classified.v1", prefix)) >= n_posts, timeout=90,
             what="all posts classified")
    for member in stack.members(("ledger",)):
        wait_for(lambda m=member: stack._healthy(m), timeout=60, what=f"{member} to be ready again")
    wait_for(lambda: ledger_lag() == 0, timeout=90, what="the ledger to commit all its input")

    balances, n_entries, n_distinct = journal(prefix)
    assert n_entries == n_distinct > 100, "an entry was written twice"
    # Each user's recent-entry view holds every one of their entries (none of these users has
    # more than the view keeps), those of batches whose Redis write a kill cut short included.
    by_user: dict = {}
    for e in topic_records("ledger.entries.v1", prefix, field="user_id"):
        by_user.setdefault(e["user_id"], set()).add(e["entry_id"])
    r = redis.Redis.from_url(env("GOALPOST_REDIS_URL"))
    for user, ids in by_user.items():
        if len(ids) <= RECENT_ENTRIES:
            in_view = {json.loads(m)["entry_id"] for m in r.zrange(view_key("entries", user), 0, -1)}
            assert ids <= in_view, f"{user}: {len(ids - in_view)} entries missing from the recent-entry view"
    matches = topic_records("matches.v1", prefix)
    assert balances == offline_balances(events, matches, prefix)
    assert asyncio.run(admin.verify()) == 0
    # The HTTP view serves the same balances (these user ids contain "/").
    user, expected = max(balances.items(), key=lambda kv: kv[1])
    request = urllib.request.Request(f"http://127.0.0.1:{stack.member_port('ledger')}/v1/users/{user}/balance",
                                     headers={"Authorization": f"Bearer {stack.first_api_key()}"})
    with urllib.request.urlopen(request, timeout=5) as r:
        assert json.loads(r.read())["balance"] == expected
    print("killed:", kills, "restarted and ready after (s):", [(victim, round(s, 1)) for victim, s in takeovers])
    assert len(kills) == 3, kills
    assert takeovers, "no restarted worker was seen ready"
    assert all(s <= TAKEOVER_S for _, s in takeovers), takeovers
