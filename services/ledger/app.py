"""The ledger service: social currency in real time, exactly once. build() wires it: the runtime,
its transactional loops (worker.py) with their consumer lag, and the HTTP routes (routes.py).

One worker (GOALPOST_LEDGER_WORKERS=1, the default) runs every rule in one stage. With N
workers, a ledger process is worker i of N (GOALPOST_LEDGER_WORKER_ID, or the ordinal of a
StatefulSet pod's host name): it owns the users of the credit partitions p % N == i, and
worker 0's process also runs the resolver, the stage keyed by post that turns every input into
credits for the users they pay (docs/design.md, "Ledger workers")."""
from __future__ import annotations

import asyncio
import os
import re

from services.core.runtime import Runtime
from services.core.settings import Settings, env
from services.ledger.routes import add_routes
from services.ledger.rule_table import load_rules
from services.ledger.stages import ONE_STAGE, RESOLVER, worker_stage
from services.ledger.topics import RESOLVER_GROUP, groups
from services.ledger.worker import LedgerWorker


def worker_id(setting: str, hostname: str) -> int:
    """GOALPOST_LEDGER_WORKER_ID if set, else the ordinal a StatefulSet gives its pod's host
    name (goalpost-ledger-2 -> 2), else 0."""
    if setting.strip():
        return int(setting)
    found = re.search(r"-(\d+)$", hostname)
    return int(found.group(1)) if found else 0


def build(settings: Settings | None = None) -> Runtime:
    """The ledger's runtime, ready to run (`build().main()`); nothing connects until it runs."""
    rt = Runtime("ledger", settings)
    rules = load_rules()
    workers = int(env("GOALPOST_LEDGER_WORKERS"))
    me = worker_id(env("GOALPOST_LEDGER_WORKER_ID"), os.environ.get("HOSTNAME", ""))
    if workers == 1:  # the one-stage loop: a third cheaper per entry than two stages on one worker
        loops = [LedgerWorker(rt, rules, ONE_STAGE, asyncio.Event())]
    else:
        loops = [LedgerWorker(rt, rules, worker_stage(me, workers), asyncio.Event())]
        if me == 0:
            loops.append(LedgerWorker(rt, rules, RESOLVER, asyncio.Event()))
    for loop in loops:
        rt.app.task(loop.run_forever)

    async def ready_when_all_recovered() -> None:
        # /readyz reports the state recovered only while every loop of the process has it
        while True:
            if all(loop.recovered.is_set() for loop in loops):
                rt.state_recovered.set()
            else:
                rt.state_recovered.clear()
            await asyncio.sleep(0.2)

    rt.app.task(ready_when_all_recovered)
    for group, topics in groups(workers).items():
        if group != RESOLVER_GROUP or me == 0:
            rt.export_lag(group, topics)
    add_routes(rt)
    return rt
