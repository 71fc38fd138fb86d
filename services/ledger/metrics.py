"""The ledger's own Prometheus metrics (the shared ones are in services/core/metrics.py).
Module-level, as prometheus_client wants: a metric is registered once per process."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ENTRIES = Counter("goalpost_ledger_entries_total", "Journal entries written, by reason", ["reason"])
MINTED = Counter("goalpost_ledger_points_minted_total", "Sum of positive entry deltas")
BURNED = Counter("goalpost_ledger_points_burned_total", "Sum of negative entry deltas (as a positive number)")
RINGS = Counter("goalpost_ledger_rings_flagged_total", "Reward rings flagged and dampened")
APPLY_SECONDS = Histogram("goalpost_ledger_apply_seconds", "Time from batch start to committed transaction",
                          buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
PARKED = Gauge("goalpost_ledger_parked_reactions", "Reactions waiting for their post")
RECOVERIES = Counter("goalpost_ledger_recoveries_total", "State rebuilds (at start and after failures)")
CHECKPOINT_SECONDS = Histogram("goalpost_ledger_checkpoint_seconds", "Time to checkpoint the rules' memory to disk",
                               buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
CACHED = Gauge("goalpost_ledger_cached_values", "Values of the rules' memory held in RAM (the rest is on disk)")
REPLAYED = Counter("goalpost_ledger_replayed_inputs_total", "Inputs re-applied at recovery (after the checkpoint)")
