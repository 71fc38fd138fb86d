"""The ledger's place in Kafka: its input topics, its journal, its consumer group and its
transactional id."""
from __future__ import annotations

# input topic -> the event type its records become (services/ledger/events.py)
INPUTS = {"posts.classified.v1": "post", "reactions.v1": "reaction", "matches.v1": "match",
          "ledger.adjustments.v1": "adjustment", "erasures.v1": "erasure"}
# Facts before the reactions that refer to them, within a batch and in recovery alike.
INPUT_ORDER = {"posts.classified.v1": 0, "matches.v1": 1, "reactions.v1": 2, "ledger.adjustments.v1": 3,
               "erasures.v1": 4}
GROUP_ID = "goalpost-ledger-journal"  # its offsets are committed inside the transactions
TRANSACTIONAL_ID = "goalpost-ledger-0"  # fixed: a restarted or zombie worker is fenced
JOURNAL = "ledger.entries.v1"
BALANCES = "ledger.balances.v1"  # compacted: the latest balance per user, a tombstone once erased
