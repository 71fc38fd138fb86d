"""JSON logging: one object per line, with the service (and worker) that wrote it."""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from services.core.workers import WORKER_ENV, worker_index

log = logging.getLogger("goalpost")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to ship and to grep."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service
        self.worker = worker_index() if os.environ.get(WORKER_ENV) else None  # one of several

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
               "level": record.levelname.lower(), "service": self.service,
               "logger": record.name, "msg": record.getMessage()}
        if self.worker is not None:
            out["worker"] = self.worker
        for key, value in getattr(record, "fields", {}).items():
            out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def json_log_handler(service: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    return handler


def event(msg: str, **fields: Any) -> None:
    """Log one state change with structured fields."""
    log.info(msg, extra={"fields": fields})
