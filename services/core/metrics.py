"""Prometheus metrics shared by every service (units in names: _total, _seconds)."""
import os
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.core.workers import WORKER_ENV

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

MESSAGES_IN = Counter("goalpost_messages_in_total", "Messages consumed", ["service", "topic"])
MESSAGES_OUT = Counter("goalpost_messages_out_total", "Messages produced", ["service", "topic"])
DLQ = Counter("goalpost_dead_letters_total", "Messages sent to dlq.v1", ["service", "topic"])
BATCH_SECONDS = Histogram("goalpost_batch_seconds", "Time to process one consumed batch",
                          ["service", "topic"],
                          buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
HTTP_REQUESTS = Counter("goalpost_http_requests_total", "HTTP requests", ["service", "route", "status"])
HTTP_SECONDS = Histogram("goalpost_http_request_seconds", "HTTP request latency", ["service", "route"],
                         buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))
ASSIGNED = Gauge("goalpost_consumer_assigned_partitions", "Partitions assigned to the service's group consumers",
                 ["service"], multiprocess_mode="livesum")
REJOINS = Counter("goalpost_consumer_rejoins_total", "Group consumers restarted by the watchdog: no partitions "
                  "while their group's lag did not fall", ["service"])
CONSUMER_LAG = Gauge("goalpost_consumer_lag_messages", "Log end offset minus committed offset",
                     ["service", "topic", "partition"],
                     multiprocess_mode="livemostrecent")  # workers of one group poll the same values


def service_pids() -> list[int]:
    """The processes of this service: the supervisor and every worker when this is one of several
    workers (services/core/workers.py), else this process alone. By parent, not by process group
    (stack.group_pids): a supervisor started by a script shares the script's group."""
    if WORKER_ENV not in os.environ:
        return [os.getpid()]
    supervisor = os.getppid()
    pids = [supervisor]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # gone since the listing
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == supervisor:  # field 4, ppid (the name may hold spaces)
                pids.append(int(entry))
    return pids


def resident_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):  # gone since it was listed
        return 0


class ServiceMemory(Collector):
    """goalpost_service_resident_memory_bytes: what the service's 300 MiB budget is about, its
    processes together. prometheus_client's process_resident_memory_bytes describes one process,
    and with several workers (multiprocess mode) it is not exported at all."""
    registered = False  # in prometheus_client's default registry, by the process's Runtime

    def __init__(self, service: str):
        self.service = service

    def collect(self):
        family = GaugeMetricFamily("goalpost_service_resident_memory_bytes",
                                   "Resident memory of all the service's processes (supervisor and workers)",
                                   labels=["service"])
        family.add_metric([self.service], float(sum(resident_bytes(p) for p in service_pids())))
        yield family
