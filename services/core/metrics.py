"""Prometheus metrics shared by every service (units in names: _total, _seconds)."""
from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter("goalpost_messages_in_total", "Messages consumed", ["service", "topic"])
MESSAGES_OUT = Counter("goalpost_messages_out_total", "Messages produced", ["service", "topic"])
DLQ = Counter("goalpost_dead_letters_total", "Messages sent to dlq.v1", ["service", "topic"])
BATCH_SECONDS = Histogram("goalpost_batch_seconds", "Time to process one consumed batch",
                          ["service", "topic"],
                          buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
HTTP_REQUESTS = Counter("goalpost_http_requests_total", "HTTP requests", ["service", "route", "status"])
HTTP_SECONDS = Histogram("goalpost_http_request_seconds", "HTTP request latency", ["service", "route"],
                         buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))
CONSUMER_LAG = Gauge("goalpost_consumer_lag_messages", "Log end offset minus committed offset",
                     ["service", "topic", "partition"],
                     multiprocess_mode="livemostrecent")  # workers of one group poll the same values
