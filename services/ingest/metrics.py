"""Metrics of the ingest (besides the shared ones in services/core/metrics.py)."""
from prometheus_client import Counter, Histogram

ACCEPTED = Counter("goalpost_ingest_accepted_total", "Records accepted and written", ["kind"])
REJECTED = Counter("goalpost_ingest_rejected_total", "Records refused by validation", ["kind", "field"])
DUPLICATES = Counter("goalpost_ingest_duplicates_total", "Repeats acknowledged without a second write", ["kind"])
RATE_LIMITED = Counter("goalpost_ingest_rate_limited_total", "Requests refused by a rate limit", ["bucket"])
PRODUCE_SECONDS = Histogram("goalpost_ingest_produce_seconds", "Time until Kafka acknowledged a write",
                            buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
