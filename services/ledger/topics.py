"""The ledger's place in Kafka: its input topics, its repartition topic, its journal, its consumer
groups and its transactional ids (docs/design.md, "Ledger workers")."""
from __future__ import annotations

# input topic -> the event type its records become (services/ledger/events.py)
INPUTS = {"posts.classified.v1": "post", "reactions.v1": "reaction", "matches.v1": "match",
          "ledger.adjustments.v1": "adjustment", "erasures.v1": "erasure"}
# Facts before the reactions that refer to them, within a batch and in recovery alike.
INPUT_ORDER = {"posts.classified.v1": 0, "matches.v1": 1, "reactions.v1": 2, "ledger.adjustments.v1": 3,
               "erasures.v1": 4}
# The one-stage ledger (every rule in one worker): the reference the two stages are tested against.
GROUP_ID = "goalpost-ledger-journal"  # its offsets are committed inside the transactions
TRANSACTIONAL_ID = "goalpost-ledger-0"  # fixed: a restarted or zombie worker is fenced
# The resolver (keyed by post: one, in worker 0's process) and the workers (keyed by user).
CREDITS = "ledger.credits.v1"
RESOLVER_GROUP = "goalpost-ledger-resolver"
RESOLVER_TRANSACTIONAL_ID = "goalpost-ledger-resolver"
WORKER_GROUP = "goalpost-ledger-workers"
WORKER_INPUTS = {CREDITS: "credit"}
JOURNAL = "ledger.entries.v1"
BALANCES = "ledger.balances.v1"  # compacted: the latest balance per user, a tombstone once erased


def groups(workers: int) -> dict[str, list[str]]:
    """Every consumer group of a ledger of `workers` workers with its input topics: the ledger
    has caught up when none of them lags. One worker is the one-stage ledger."""
    if workers == 1:
        return {GROUP_ID: list(INPUTS)}
    return {RESOLVER_GROUP: list(INPUTS), WORKER_GROUP: [CREDITS]}


def worker_transactional_id(worker: int) -> str:
    """Worker `worker` of N owns the credit partitions p with p % N == worker; the id is fixed
    per worker, so its restart (or a zombie of it) is fenced."""
    return f"goalpost-ledger-worker-{worker}"
