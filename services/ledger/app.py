"""The ledger service: social currency in real time, exactly once. build() wires it: the runtime,
the transactional worker (worker.py), its consumer lag and the HTTP routes (routes.py)."""
from __future__ import annotations

from services.core.runtime import Runtime
from services.core.settings import Settings
from services.ledger.routes import add_routes
from services.ledger.rule_table import load_rules
from services.ledger.topics import GROUP_ID, INPUTS
from services.ledger.worker import LedgerWorker


def build(settings: Settings | None = None) -> Runtime:
    """The ledger's runtime, ready to run (`build().main()`); nothing connects until it runs."""
    rt = Runtime("ledger", settings)
    worker = LedgerWorker(rt, load_rules())
    rt.app.task(worker.run_forever)
    rt.export_lag(GROUP_ID, INPUTS)
    add_routes(rt)
    return rt
