"""What every Goalpost service shares: the faust app (lifecycle and web server), the Kafka
producer, Redis, the dead letter topic, output marks, stream handlers and routes. A service's
`build(settings)` makes a Runtime and adds its handlers and routes to it.

Sends on the hot path go through one aiokafka producer owned here (acks=all, idempotent),
batched per stream batch."""
from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter
from typing import Any, Awaitable, Callable, Iterable, Optional

import mode
import redis.asyncio as aioredis
import uvloop
from aiokafka import AIOKafkaProducer, ConsumerRecord

from services.core import metrics, redis_client
from services.core.auth import ApiKey, load_keys
from services.core.consumer import BatchHandler, GroupConsumer, poll_lag, stuck_unassigned
from services.core.contracts import DeadLetter, Record
from services.core.dedupe import RedisMarks
from services.core.kafka_io import send_many
from services.core.logs import event, json_log_handler, log
from services.core.privacy import KEYS_FOR_LUA, KeyRing
from services.core.settings import STATE_NOT_RECOVERED, Settings, env
from services.core.streams import In, RecordHandler, decode, run_batch
from services.core.web import API_KEY, WebOnlyApp, add_common_routes, add_route, json_response, problem, refuse
from services.core.workers import worker_index


async def retry_forever(what: str, step: Callable[[], Awaitable[Any]], pause: float) -> None:
    """Runs `step` again and again (a service's background task); a failure (broker or Redis
    away) is logged and retried after `pause` seconds."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            event(f"{what} failed; resuming", error=repr(exc)[:300])
            await asyncio.sleep(pause)


def settle_heap(first_generation: int = 20_000) -> None:
    """Tunes the garbage collector for a streaming service. What is alive after start (modules,
    faust, clients, a loaded model, recovered state) lives as long as the process: freeze it so
    that full collections stop walking it. Batches make thousands of short-lived objects at a
    time: a larger first generation lets them die young instead of being promoted and rescanned
    (collector passes are a tenth to a quarter of the batch routes' time without it)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(first_generation, 20, 20)


class Resources(mode.Service):
    """Kafka producer and Redis client, started and stopped with the app."""

    def __init__(self, runtime: "Runtime", **kwargs: Any):
        super().__init__(**kwargs)
        self.runtime = runtime

    async def on_start(self) -> None:
        await self.runtime.start_resources()

    async def on_stop(self) -> None:
        await self.runtime.stop_resources()


class Runtime:
    def __init__(self, service: str, settings: Optional[Settings] = None, linger_ms: int = 5):
        """Builds the app; connects to nothing until the app starts. Kafka is read by our own
        aiokafka consumer (services/core/consumer.py) or, for the ledger's transactions, by the
        service itself: faust's per-message stream machinery costs ~40% of classify's CPU."""
        self.service = service
        self.settings = settings or Settings(service=service)
        self._api_keys: Optional[dict[str, ApiKey]] = None
        s = self.settings
        self.group_id = f"goalpost-{service}"  # the consumer group of the stream handlers
        self.app = WebOnlyApp(
            self.group_id,
            broker=f"kafka://{s.kafka_bootstrap}",
            store="memory://",
            autodiscover=False,
            key_serializer="raw",
            value_serializer="raw",
            topic_partitions=s.topic_partitions,
            topic_allow_declare=False,  # topics come from the contracts (goalpost stack up)
            topic_disable_leader=True,
            web_enabled=True,
            web_host=s.http_host,
            web_bind=s.http_host,
            web_port=s.http_port,
            web_in_thread=False,
            # not the working directory (read-only in containers); one per worker process
            datadir=str(s.state_dir / "faust" / f"worker-{worker_index()}"),
        )
        self.app.shares_port = s.workers > 1
        (s.state_dir / "faust").mkdir(parents=True, exist_ok=True)  # faust makes only the last level
        self.producer: Optional[AIOKafkaProducer] = None
        self.linger_ms = linger_ms  # how long the producer waits to fill a batch
        self.redis: Optional[aioredis.Redis] = None
        self.state_recovered = asyncio.Event()
        self._lag_topics: dict[str, list[str]] = {}  # consumer group -> topics its lag poller covers
        self._scripts: dict[str, Any] = {}  # name -> registered Lua script
        self._keyring: Optional[KeyRing] = None
        self._group_lag: dict[str, int] = {}  # group id -> its total lag, as last polled
        self.consumer = GroupConsumer(service, self.group_id, s, self._group_lag)
        self.marks = RedisMarks(self.script)
        self.app.add_dependency(Resources(self))
        add_common_routes(self.route, service, self.readiness_problems)

    # ------------------------------------------------------------ resources
    async def start_resources(self) -> None:
        s = self.settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap, acks="all", enable_idempotence=True,
            linger_ms=self.linger_ms, max_batch_size=1 << 20, compression_type=None,
            client_id=f"goalpost-{self.service}", request_timeout_ms=15000)
        while True:
            try:
                await self.producer.start()
                break
            except Exception as exc:  # broker not there yet: keep trying, /readyz says not ready
                event("producer start failed, retrying", error=str(exc))
                await asyncio.sleep(1)
        self.redis = redis_client.connect(s)
        while True:
            try:
                renamed = await redis_client.rename_legacy_keys(self.redis, s.redis_cluster)
                break
            except Exception as exc:  # Redis not there yet: keep trying, /readyz says not ready
                event("redis not reachable, retrying", error=str(exc))
                await asyncio.sleep(1)
        if renamed:
            event("redis keys renamed to carry their hash tag", keys=renamed)
        settle_heap()
        event("resources started", kafka=s.kafka_bootstrap, redis=s.redis_url, redis_cluster=s.redis_cluster)

    async def stop_resources(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self.redis is not None:
            await self.redis.aclose()

    # ------------------------------------------------------------ sending
    async def send_records(self, records: Iterable[Record], wait: bool = True) -> int:
        """Sends records to their topics, keyed by their contract key; waits for acks=all."""
        assert self.producer is not None, "producer not started"
        out = [(rec.topic, rec.key(), rec.to_json()) for rec in records]
        futures = await send_many(self.producer, out)
        for topic, count in Counter(topic for topic, _, _ in out).items():
            metrics.MESSAGES_OUT.labels(self.service, topic).inc(count)
        if wait and futures:
            await asyncio.gather(*futures)
        return len(out)

    async def dead_letter(self, topic: str, partition: Optional[int], offset: Optional[int],
                          error: str, payload: bytes) -> None:
        await self.send_records([DeadLetter.of(self.service, topic, partition, offset, error, payload)])
        metrics.DLQ.labels(self.service, topic).inc()
        log.warning("dead-lettered", extra={"fields": {"topic": topic, "partition": partition,
                                                         "offset": offset, "error": error[:300]}})

    # ------------------------------------------------------------ Redis
    def script(self, name: str, lua: str) -> Any:
        """A Lua script registered once per Redis client (redis-py reloads it after a Redis restart)."""
        script = self._scripts.get(name)
        if script is None:
            assert self.redis is not None
            script = self._scripts[name] = self.redis.register_script(lua)
        return script

    async def not_done(self, ids: list[str], *keys: Callable[[str], str]) -> set[str]:
        return await self.marks.not_done(ids, *keys)

    async def mark_done(self, ids: list[str], key: Callable[[str], str]) -> None:
        await self.marks.mark_done(ids, key)

    @property
    def keyring(self) -> KeyRing:
        """The users' text keys (services/core/privacy.py), once Redis is up."""
        if self._keyring is None:
            self._keyring = KeyRing(self.redis, self.script("keys_for", KEYS_FOR_LUA))
        return self._keyring

    async def open_texts(self, posts: list[Any]) -> list[Any]:
        """Posts (with author_id and a sealed text) with their texts opened, in place; those whose
        author was erased are left out."""
        return await self.keyring.open_texts(posts)

    # ------------------------------------------------------------ streams
    def stream_batches(self, topic_name: str, handler: BatchHandler) -> None:
        """Registers `handler` for batches of raw records (aiokafka ConsumerRecords) of a topic."""
        if not self.consumer.handlers:
            self.app.task(self._consume)
        self.consumer.handlers[topic_name] = handler
        self.export_lag(self.group_id, [topic_name])

    def handle(self, topic_name: str, handler: RecordHandler) -> None:
        """Registers a handler of decoded records (services/core/streams.py) for a topic."""
        async def batch(records: list[ConsumerRecord]) -> None:
            await run_batch(records, handler, self, self.marks)
        self.stream_batches(topic_name, batch)

    async def _consume(self) -> None:
        await self.consumer.run(self.state_recovered)

    async def decode_or_dead_letter(self, records: list[ConsumerRecord], record_cls: type[In]) -> list[tuple[Any, In]]:
        """Decodes each record's value into `record_cls`; bad ones go to dlq.v1 with the reason."""
        return await decode(records, record_cls, self)

    def export_lag(self, group_id: str, topics: Iterable[str], every_s: float = 10.0) -> None:
        """Exports goalpost_consumer_lag_messages per partition for a consumer group, which
        faust does not export by itself. One poller per group: later calls add their topics."""
        if group_id in self._lag_topics:
            self._lag_topics[group_id].extend(topics)
            return
        self._lag_topics[group_id] = group_topics = list(topics)

        async def lag_task() -> None:
            await self.poll_lag(group_id, group_topics, every_s)

        self.app.task(lag_task)

    async def poll_lag(self, group_id: str, topics: list[str], every_s: float) -> None:
        await poll_lag(self.service, self.settings.kafka_bootstrap, group_id, topics, every_s, self._group_lag)

    # ------------------------------------------------------------ HTTP
    @property
    def api_keys(self) -> dict[str, ApiKey]:
        """The configured API keys (read once, on first use)."""
        if self._api_keys is None:
            self._api_keys = load_keys(env("GOALPOST_API_KEYS"), env("GOALPOST_API_KEYS_FILE"))
        return self._api_keys

    def route(self, path: str, handler: Callable[..., Awaitable[Any]], methods: tuple[str, ...] = ("GET",),
              scope: Optional[str] = None) -> None:
        """An HTTP route (services/core/web.py: add_route)."""
        add_route(self.app, self.service, lambda: self.api_keys, path, handler, methods, scope)

    def serve_openapi(self, document: dict[str, Any]) -> None:
        """GET /openapi.json (read scope): the service's OpenAPI document."""
        async def openapi(view: Any, request: Any) -> Any:
            return json_response(view, document)
        self.route("/openapi.json", openapi, scope="read")

    async def readiness_problems(self) -> list[str]:
        problems = []
        if self.producer is None:
            problems.append("kafka producer not started")
        else:
            try:
                ok = await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2)
                if not ok.brokers():
                    problems.append("kafka: no brokers in metadata")
            except Exception as exc:
                problems.append(f"kafka unreachable: {type(exc).__name__}")
        if self.redis is None:
            problems.append("redis client not started")
        else:
            try:
                await asyncio.wait_for(self.redis.ping(), 2)
            except Exception as exc:
                problems.append(f"redis unreachable: {type(exc).__name__}")
        if not self.state_recovered.is_set():
            problems.append(STATE_NOT_RECOVERED)
        return problems

    # ------------------------------------------------------------ run
    def main(self) -> None:
        """Runs the service as a faust worker in this process (blocking)."""
        import faust
        level = self.settings.log_level.upper()
        handler = json_log_handler(self.service)
        logging.basicConfig(level=level, handlers=[handler], force=True)
        # Only the JSON handler: mode would otherwise add its own coloured text handler too.
        self.app.conf.loghandlers = [handler]
        self.app.conf.logging_config = {"version": 1, "disable_existing_loggers": False,
                                        "root": {"level": level, "handlers": []}}
        loop = self.settings.event_loop
        if loop not in ("uvloop", "asyncio"):
            raise SystemExit(f"GOALPOST_EVENT_LOOP must be uvloop or asyncio, not {loop!r}")
        if loop == "uvloop":
            uvloop.install()  # before the worker makes its loop: every service's sockets run on libuv
        worker = faust.Worker(self.app, loglevel=level, quiet=True, redirect_stdouts=False)
        worker.execute_from_commandline()


__all__ = ["Runtime", "RecordHandler", "API_KEY", "problem", "refuse", "json_response", "event", "log",
           "retry_forever", "settle_heap", "stuck_unassigned"]
