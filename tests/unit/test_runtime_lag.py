"""The consumer-lag poller of every service (Runtime.poll_lag) must outlive a broker that is away
when the service starts: its failure crashed the whole service, which `make faults` caught when a
restarted ledger came up during the broker's restart. No broker here: a closed port stands in."""
from __future__ import annotations

import asyncio
import socket

import pytest

from services.core.runtime import Runtime
from services.core.settings import Settings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_lag_poller_keeps_waiting_for_a_broker_that_is_away(monkeypatch, tmp_path):
    monkeypatch.setenv("GOALPOST_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port()}")
    monkeypatch.setenv("GOALPOST_STATE_DIR", str(tmp_path))
    rt = Runtime("classify", settings=Settings(service="classify"))

    async def poll_for_a_while() -> None:
        with pytest.raises(asyncio.TimeoutError):  # still trying, not crashed
            await asyncio.wait_for(rt.poll_lag("goalpost-classify", ["posts.v1"], every_s=0.2), 3)

    asyncio.run(poll_for_a_while())


def test_a_consumer_without_partitions_rejoins_only_when_its_groups_lag_stands():
    from services.core.runtime import stuck_unassigned
    assert stuck_unassigned(61, 500, 500) and stuck_unassigned(61, 500, 900)  # nobody consumes it
    assert not stuck_unassigned(61, 500, 200)  # the other workers consume it: an idle worker stays
    assert not stuck_unassigned(61, 0, 0)      # nothing to consume
    assert not stuck_unassigned(30, 500, 500)  # not for long enough
