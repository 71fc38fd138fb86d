"""The stages the ledger's transactional loop (worker.py) runs: what a stage reads, how it
applies an event, what state it keeps, where it commits. The resolver is keyed by post and
writes credits; a worker is keyed by user and writes the journal, balances and views."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from services.ledger.rule_table import RuleTable
from services.ledger.rules import apply_event, resolve_event
from services.ledger.settle import UserState, apply_credit
from services.ledger.state import LedgerState
from services.ledger.topics import (
    GROUP_ID,
    INPUT_ORDER,
    INPUTS,
    RESOLVER_GROUP,
    RESOLVER_TRANSACTIONAL_ID,
    TRANSACTIONAL_ID,
    WORKER_GROUP,
    WORKER_INPUTS,
    worker_transactional_id,
)


@dataclass(frozen=True)
class Stage:
    name: str  # in logs and the store's file name
    inputs: Mapping[str, str]  # topic -> event type
    order: Mapping[str, int]  # topics applied first within a batch
    group_id: str  # the consumer group its offsets are committed to, in its transactions
    transactional_id: str
    apply: Callable[[Any, Mapping[str, Any], RuleTable], list]  # (state, event, rules) -> records out
    new_state: Callable[[Optional[Any]], Any]  # (store or None) -> empty state
    restore: Callable[[Any, bytes], Any]  # (store, checkpoint blob) -> state
    journal: bool  # writes entries, balances and the Redis views (else: credits)
    share: Optional[tuple[int, int]] = None  # (worker, workers): partitions p % workers == worker; None: all


ONE_STAGE = Stage("ledger", INPUTS, INPUT_ORDER, GROUP_ID, TRANSACTIONAL_ID, apply_event, LedgerState,
                  LedgerState.restore, journal=True)
RESOLVER = Stage("resolver", INPUTS, INPUT_ORDER, RESOLVER_GROUP, RESOLVER_TRANSACTIONAL_ID, resolve_event,
                 LedgerState, LedgerState.restore, journal=False)


def worker_stage(worker: int, workers: int) -> Stage:
    if not 0 <= worker < workers:
        raise ValueError(f"ledger worker {worker} of {workers}: must be 0..{workers - 1}")
    return Stage(f"worker-{worker}", WORKER_INPUTS, {topic: 0 for topic in WORKER_INPUTS}, WORKER_GROUP,
                 worker_transactional_id(worker), apply_credit, UserState, UserState.restore, journal=True,
                 share=(worker, workers))


def owns(stage: Stage, partition: int) -> bool:
    return stage.share is None or partition % stage.share[1] == stage.share[0]
