"""The group consumer of a service's stream handlers, with a watchdog for an empty assignment,
and the consumer-lag exporter."""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Awaitable, Callable, Iterable, Optional

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError

from services.core import metrics
from services.core.kafka_io import GroupLag
from services.core.logs import event, log
from services.core.settings import Settings

# A handler may return the rest of its batch's work (sending, storing) as an awaitable: the
# consumer then hands it the next batch meanwhile, and commits the offsets once that rest is done.
Finish = Optional[Awaitable[None]]
BatchHandler = Callable[[list[ConsumerRecord]], Awaitable[Finish]]
UNASSIGNED_LIMIT_S = 60.0  # how long a consumer may hold no partition while its group's lag stands
FINISHING_LIMIT = 1  # batches whose rest may still be running while the next one is handled


def stuck_unassigned(empty_for_s: float, lag_then: int, lag_now: int, limit_s: float = UNASSIGNED_LIMIT_S) -> bool:
    """A consumer without partitions rejoins its group when, for limit_s, the group had lag that
    did not fall: nobody is consuming it. An idle worker of a group with more workers than
    partitions sees the lag fall (the others consume it) and stays put."""
    return empty_for_s >= limit_s and lag_now > 0 and lag_now >= lag_then


class Unacknowledged:
    """The batches handed over and not yet committed, oldest first, each with its finish.
    Offsets come out in the order their batches came, once each finished: a later batch that
    finished first waits for the earlier ones."""

    def __init__(self, limit: int = FINISHING_LIMIT):
        self.limit = limit
        self.batches: deque[tuple[dict[TopicPartition, int], asyncio.Future]] = deque()

    def add(self, offsets: dict[TopicPartition, int], finishes: list[asyncio.Future]) -> None:
        self.batches.append((offsets, asyncio.ensure_future(asyncio.gather(*finishes))))

    async def to_commit(self) -> list[dict[TopicPartition, int]]:
        """The offsets of the oldest batches that finished, waiting for the oldest while more
        than `limit` are running. Raises what a finish raised (that batch is not committed);
        the batches that finished before it come out first, and the next call raises."""
        out: list[dict[TopicPartition, int]] = []
        while self.batches and (self.batches[0][1].done() or len(self.batches) > self.limit):
            offsets, finished = self.batches[0]
            try:
                await finished
            except Exception:
                if out:
                    return out
                raise
            self.batches.popleft()
            out.append(offsets)
        return out

    async def settle(self) -> None:
        """Lets the running finishes end, their errors dropped: none of them is committed, so
        their batches come again."""
        await asyncio.gather(*(f for _, f in self.batches), return_exceptions=True)
        self.batches.clear()


class GroupConsumer:
    """The topics of a service share one consumer in its group; offsets are committed only
    after every handler of a batch returned and finished (at least once), in the order the
    batches came. A handler that raises, or whose finish raises, is not acknowledged: the
    consumer restarts from the committed offsets and the batch comes again."""

    def __init__(self, service: str, group_id: str, settings: Settings, group_lag: dict[str, int]):
        self.service, self.group_id, self.settings = service, group_id, settings
        self.handlers: dict[str, BatchHandler] = {}  # topic -> handler
        self.group_lag = group_lag  # group id -> its total lag, as last polled (LagExporter)

    async def run(self, ready: asyncio.Event) -> None:
        """Consumes until cancelled. A consumer that holds no partition while its group's lag
        does not fall (partitions left unowned after a broker restart) leaves and joins again."""
        s = self.settings
        # Join the group only once the state is rebuilt: a handler waiting minutes for it would
        # exceed the poll interval, and the group would take its partitions away meanwhile.
        await ready.wait()
        while True:
            consumer = AIOKafkaConsumer(
                *self.handlers, bootstrap_servers=s.kafka_bootstrap, group_id=self.group_id,
                client_id=f"goalpost-{self.service}", enable_auto_commit=False, auto_offset_reset="earliest",
                isolation_level="read_committed", max_poll_records=s.stream_batch,
                # a worker killed with SIGKILL leaves the group when its session expires: keep that
                # short so its partitions move on within seconds, not a minute
                session_timeout_ms=10_000, heartbeat_interval_ms=2_000)
            empty_since: Optional[float] = None
            lag_then = 0
            unacknowledged = Unacknowledged()
            try:
                await consumer.start()
                while True:
                    for offsets in await unacknowledged.to_commit():  # a finish that raised: start again
                        await self.commit(consumer, offsets)
                    got = await consumer.getmany(timeout_ms=int(s.stream_batch_within_s * 1000),
                                                 max_records=s.stream_batch)
                    assigned = len(consumer.assignment())
                    metrics.ASSIGNED.labels(self.service).set(assigned)
                    lag_now = self.group_lag.get(self.group_id, 0)
                    if assigned:
                        empty_since = None
                    elif empty_since is None:
                        empty_since, lag_then = time.monotonic(), lag_now
                    elif stuck_unassigned(time.monotonic() - empty_since, lag_then, lag_now):
                        metrics.REJOINS.labels(self.service).inc()
                        event("consumer held no partition while its group's lag did not fall; rejoining",
                              lag=lag_now, seconds=round(time.monotonic() - empty_since))
                        break
                    if not got:
                        continue
                    finishes = await self.dispatch(got)
                    unacknowledged.add({tp: records[-1].offset + 1 for tp, records in got.items()}, finishes)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away too long, a handler failed: start again from the commits
                event("consumer failed; restarting from the committed offsets", error=repr(exc)[:300])
                await asyncio.sleep(1)
            finally:
                await unacknowledged.settle()
                await consumer.stop()

    @staticmethod
    async def commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except CommitFailedError as exc:  # the group rebalanced meanwhile
            event("offsets not committed after a rebalance; the partitions' new owner reads "
                  "the batch again (output marks drop the repeats)", error=str(exc)[:300])

    async def dispatch(self, got: dict[TopicPartition, list[ConsumerRecord]]) -> list[asyncio.Future]:
        """Hands each topic's records to its handler; returns the finishes they left running."""
        by_topic: dict[str, list[ConsumerRecord]] = {}
        for tp, records in got.items():
            by_topic.setdefault(tp.topic, []).extend(records)
        finishes: list[asyncio.Future] = []
        for topic, records in by_topic.items():
            started = time.perf_counter()
            metrics.MESSAGES_IN.labels(self.service, topic).inc(len(records))
            finish = await self.handlers[topic](records)
            if finish is not None:  # running from now on, even if a later topic's handler raises
                finishes.append(asyncio.ensure_future(finish))
            metrics.BATCH_SECONDS.labels(self.service, topic).observe(time.perf_counter() - started)
        return finishes


async def poll_lag(service: str, bootstrap: str, group_id: str, topics: Iterable[str], every_s: float,
                   group_lag: dict[str, int]) -> None:
    """Exports goalpost_consumer_lag_messages per partition of a group (log end offset minus
    committed offset) every `every_s` until cancelled, and its total into group_lag. A broker
    that is away, even while the service starts, only delays it."""
    lag = GroupLag(bootstrap, group_id, topics)
    while True:
        try:
            await lag.start()
            break
        except Exception as exc:
            log.debug("lag poller cannot reach the broker yet: %r", exc)
            await asyncio.sleep(every_s)
    try:
        while True:
            try:
                per_partition = await lag.per_partition()
                for tp, behind in per_partition.items():
                    metrics.CONSUMER_LAG.labels(service, tp.topic, str(tp.partition)).set(behind)
                group_lag[group_id] = sum(per_partition.values())
            except Exception as exc:  # broker away: keep the last values, try again
                log.debug("lag poll failed: %r", exc)
            await asyncio.sleep(every_s)
    finally:
        await lag.stop()
