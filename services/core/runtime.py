"""What every Goalpost service shares: the faust app, the Kafka producer, Redis, the DLQ,
health routes, metrics and JSON logging. A service module builds a `Runtime` and adds its
agents and routes; business rules stay in each service's pure `logic` module.

Faust runs the app lifecycle, the consumer group and the web server. Sends on the hot path go
through one aiokafka producer owned here (acks=all, idempotent), batched per stream batch.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import sys
import time
from collections import Counter
from typing import Any, Awaitable, Callable, Iterable, Optional

import faust
from aiohttp.web import TCPSite
from faust.app.base import BootStrategy
from faust.web.drivers.aiohttp import Web as AiohttpWeb
import mode
import orjson
import prometheus_client
import redis.asyncio as aioredis
import uvloop
from redis.exceptions import RedisError
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from services.core import metrics
from services.core.auth import ApiKey, Refusal, authorise, load_keys
from services.core.contracts import ContractError, DeadLetter, Record, dumps
from services.core.kafka_io import GroupLag, send_many
from services.core.privacy import KEYS_FOR_LUA, KeyRing, is_sealed, unseal
from services.core.settings import STATE_NOT_RECOVERED, Settings, env
from services.core.workers import METRICS_DIR_ENV, WORKER_ENV, worker_index

log = logging.getLogger("goalpost")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to ship and to grep."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service
        self.worker = worker_index() if os.environ.get(WORKER_ENV) else None  # one of several

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
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


# One call per batch instead of a pipeline of one command per message: packing and parsing a
# pipeline of small commands was a tenth of classify's time.
_EXISTS_LUA = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('EXISTS', key) end
return out
"""
_MARK_LUA = """
for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'EX', ARGV[1]) end
return #KEYS
"""


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


UNASSIGNED_LIMIT_S = 60.0  # how long a consumer may hold no partition while its group's lag stands


def stuck_unassigned(empty_for_s: float, lag_then: int, lag_now: int, limit_s: float = UNASSIGNED_LIMIT_S) -> bool:
    """A consumer without partitions rejoins its group when, for limit_s, the group had lag that
    did not fall: nobody is consuming it. An idle worker of a group with more workers than
    partitions sees the lag fall (the others consume it) and stays put."""
    return empty_for_s >= limit_s and lag_now > 0 and lag_now >= lag_then


def settle_heap(first_generation: int = 20_000) -> None:
    """Tunes the garbage collector for a streaming service. What is alive after start (modules,
    faust, clients, a loaded model, recovered state) lives as long as the process: freeze it so
    that full collections stop walking it. Batches make thousands of short-lived objects at a
    time: a larger first generation lets them die young instead of being promoted and rescanned
    (collector passes showed up as a tenth to a quarter of the batch routes' time).
    `first_generation`: allocations between young collections."""
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


class _WebOnlyBoot(BootStrategy):
    enable_kafka = False


class _ReusePortWeb(AiohttpWeb):
    """faust's aiohttp server, bound with SO_REUSEPORT: the workers of one service share its port."""

    def _new_transport_tcp(self) -> TCPSite:
        return TCPSite(self._runner, self.app.conf.web_bind, self.app.conf.web_port,
                       ssl_context=self.app.conf.web_ssl_context, reuse_port=True)


class _WebOnlyApp(faust.App):
    BootStrategy = _WebOnlyBoot
    shares_port = False

    def _new_web(self) -> AiohttpWeb:
        return _ReusePortWeb(self) if self.shares_port else super()._new_web()


class Runtime:
    def __init__(self, service: str, settings: Optional[Settings] = None, linger_ms: int = 5):
        """faust runs the lifecycle (start, stop, signals) and the web server. Kafka is read by
        our own aiokafka consumer (stream_batches) or, for the ledger's transactions, by the
        service itself: faust's per-message stream machinery cost ~40% of classify's CPU."""
        self.service = service
        self.settings = settings or Settings(service=service)
        self._api_keys: Optional[dict[str, ApiKey]] = None
        s = self.settings
        self.group_id = f"goalpost-{service}"  # the consumer group of stream_batches (faust's app id before)
        self.app = _WebOnlyApp(
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
        self._handlers: dict[str, Callable[[list[ConsumerRecord]], Awaitable[None]]] = {}  # topic -> handler
        self.app.add_dependency(Resources(self))
        self._add_common_routes()

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
        # A blocking pool: under load requests wait for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(s.redis_url, max_connections=64, timeout=5,
                                                        socket_timeout=5, socket_connect_timeout=2)
        self.redis = aioredis.Redis(connection_pool=pool)
        settle_heap()
        event("resources started", kafka=s.kafka_bootstrap, redis=s.redis_url)

    async def stop_resources(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self.redis is not None:
            await self.redis.aclose()

    # ------------------------------------------------------------ topics and sending
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

    # ------------------------------------------------------------ output dedupe
    # A batch whose offsets were not committed before a crash or rebalance is consumed again.
    # Marking each output in Redis after Kafka acknowledged it, and skipping marked ids, narrows
    # repeats on the output topic to a kill between the ack and the mark. `key` maps an id to
    # its mark: a service whose view already holds one key per output uses that key as the mark.
    DONE_TTL_S = 7 * 86400

    async def not_done(self, ids: list[str], key: Callable[[str], str]) -> set[str]:
        """The ids whose output was not written yet (one script call for the whole batch)."""
        if not ids:
            return set()
        assert self.redis is not None
        present = await self.script("exists", _EXISTS_LUA)(keys=[key(i) for i in ids])
        return {i for i, p in zip(ids, present) if not p}

    async def mark_done(self, ids: list[str], key: Callable[[str], str]) -> None:
        if not ids:
            return
        assert self.redis is not None
        await self.script("mark", _MARK_LUA)(keys=[key(i) for i in ids], args=[self.DONE_TTL_S])

    @property
    def keyring(self) -> KeyRing:
        """The users' text keys (services/core/privacy.py), once Redis is up."""
        if self._keyring is None:
            self._keyring = KeyRing(self.redis, self.script("keys_for", KEYS_FOR_LUA))
        return self._keyring

    async def open_texts(self, posts: list[Any]) -> list[Any]:
        """Posts (with author_id and a sealed text) with their texts opened, in place; those whose
        author was erased are left out."""
        keys = await self.keyring.keys_for([p.author_id for p in posts if is_sealed(p.text)])
        out = []
        for post in posts:
            text = unseal(keys.get(post.author_id), post.text, post.author_id)
            if text is not None:
                post.text = text
                out.append(post)
        return out

    def script(self, name: str, lua: str) -> Any:
        """A Lua script registered once per Redis client (redis-py reloads it after a Redis restart)."""
        script = self._scripts.get(name)
        if script is None:
            assert self.redis is not None
            script = self._scripts[name] = self.redis.register_script(lua)
        return script

    def stream_batches(self, topic_name: str, handler: Callable[[list[ConsumerRecord]], Awaitable[None]]) -> None:
        """Registers `handler` for batches of records (aiokafka ConsumerRecords) of `topic_name`.
        The topics of a service share one consumer in its group; offsets are committed only
        after every handler of a batch returned (at least once). A handler that raises is not
        acknowledged: the consumer restarts from the committed offsets and the batch comes again."""
        if not self._handlers:
            self.app.task(self._consume)
        self._handlers[topic_name] = handler
        self.export_lag(self.group_id, [topic_name])

    async def _consume(self) -> None:
        """The group consumer of stream_batches, with a watchdog: a consumer that holds no
        partition while its group's lag does not fall (partitions left unowned after a broker
        restart) leaves and joins the group again."""
        s = self.settings
        # Join the group only once the state is rebuilt: a handler waiting minutes for it would
        # exceed the poll interval, and the group would take its partitions away meanwhile.
        await self.state_recovered.wait()
        while True:
            consumer = AIOKafkaConsumer(
                *self._handlers, bootstrap_servers=s.kafka_bootstrap, group_id=self.group_id,
                client_id=f"goalpost-{self.service}", enable_auto_commit=False, auto_offset_reset="earliest",
                isolation_level="read_committed", max_poll_records=s.stream_batch,
                # a worker killed with SIGKILL leaves the group when its session expires: keep that
                # short so its partitions move on within seconds, not a minute
                session_timeout_ms=10_000, heartbeat_interval_ms=2_000)
            empty_since: Optional[float] = None
            lag_then = 0
            try:
                await consumer.start()
                while True:
                    got = await consumer.getmany(timeout_ms=int(s.stream_batch_within_s * 1000),
                                                 max_records=s.stream_batch)
                    assigned = len(consumer.assignment())
                    metrics.ASSIGNED.labels(self.service).set(assigned)
                    lag_now = self._group_lag.get(self.group_id, 0)
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
                    await self._dispatch(got)
                    try:
                        await consumer.commit({tp: records[-1].offset + 1 for tp, records in got.items()})
                    except CommitFailedError as exc:  # the group rebalanced meanwhile
                        event("offsets not committed after a rebalance; the partitions' new owner reads "
                              "the batch again (output marks drop the repeats)", error=str(exc)[:300])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away too long, a handler failed: start again from the commits
                event("consumer failed; restarting from the committed offsets", error=repr(exc)[:300])
                await asyncio.sleep(1)
            finally:
                await consumer.stop()

    async def _dispatch(self, got: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        by_topic: dict[str, list[ConsumerRecord]] = {}
        for tp, records in got.items():
            by_topic.setdefault(tp.topic, []).extend(records)
        for topic, records in by_topic.items():
            started = time.perf_counter()
            metrics.MESSAGES_IN.labels(self.service, topic).inc(len(records))
            await self._handlers[topic](records)
            metrics.BATCH_SECONDS.labels(self.service, topic).observe(time.perf_counter() - started)

    async def decode_or_dead_letter(self, records: list[ConsumerRecord], record_cls: type[Record]) -> list[tuple[Any, Record]]:
        """Decodes each record's value into `record_cls`; bad ones go to dlq.v1 with the reason."""
        out = []
        for msg in records:
            try:
                out.append((msg, record_cls.from_json(msg.value)))
            except ContractError as exc:
                await self.dead_letter(msg.topic, msg.partition, msg.offset, str(exc), msg.value or b"")
        return out

    # ------------------------------------------------------------ HTTP
    @property
    def api_keys(self) -> dict[str, ApiKey]:
        """The configured API keys (read once, on first use)."""
        if self._api_keys is None:
            self._api_keys = load_keys(env("GOALPOST_API_KEYS"), env("GOALPOST_API_KEYS_FILE"))
        return self._api_keys

    def route(self, path: str, handler: Callable[..., Awaitable[Any]], methods: tuple[str, ...] = ("GET",),
              scope: Optional[str] = None):
        """Adds an HTTP route; handler(request, **match_info) returns a faust/aiohttp Response.
        With a scope, only a request whose API key holds it reaches the handler (401 / 403), and
        the handler finds the key in request[API_KEY].
        Requests are counted and timed by route template and status."""
        service = self.service
        runtime = self
        label = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)  # metrics name the template, not its regex
        seconds = metrics.HTTP_SECONDS.labels(service, label)
        by_status: dict[int, Any] = {}  # labels() per request was a few % of a single post's time

        async def timed(view: faust.web.View, request: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                verdict = authorise(request.headers.get("Authorization"), runtime.api_keys, scope) if scope else None
                if isinstance(verdict, Refusal):
                    response = refuse(view, verdict)
                else:
                    request[API_KEY] = verdict
                    response = await handler(view, request, **kw)
            except RedisError as exc:  # a dependency is away: the client may retry
                log.warning("redis error in %s: %r", path, exc)
                response = problem(view, 503, "Service Unavailable", "a dependency is unavailable; retry later",
                                   headers={"Retry-After": "1"})
            except Exception:
                log.exception("unhandled error in %s", path)
                response = problem(view, 500, "Internal Server Error", "unexpected error; it was logged")
            counter = by_status.get(response.status)
            if counter is None:
                counter = by_status[response.status] = metrics.HTTP_REQUESTS.labels(service, label, str(response.status))
            counter.inc()
            seconds.observe(time.perf_counter() - started)
            return response

        attrs = {m.lower(): timed for m in methods}
        view = type(f"View_{abs(hash(path))}", (faust.web.View,), attrs)
        self.app.page(path)(view)

    def serve_openapi(self, document: dict[str, Any]) -> None:
        """GET /openapi.json (read scope): the service's OpenAPI document."""
        async def openapi(view: Any, request: Any) -> Any:
            return json_response(view, document)
        self.route("/openapi.json", openapi, scope="read")

    def _add_common_routes(self) -> None:
        async def healthz(view, request):
            return view.json({"status": "ok", "service": self.service})

        async def readyz(view, request):
            problems = await self.readiness_problems()
            return view.json({"ready": not problems, "service": self.service, "problems": problems},
                             status=200 if not problems else 503)

        service_memory = metrics.ServiceMemory(self.service)
        if not os.environ.get(METRICS_DIR_ENV) and not metrics.ServiceMemory.registered:
            metrics.ServiceMemory.registered = True  # one per process (tests import several services)
            prometheus_client.REGISTRY.register(service_memory)

        async def metrics_route(view, request):
            return view.bytes(generate_latest(_metrics_registry(service_memory)),
                              content_type=CONTENT_TYPE_LATEST.split(";")[0])

        self.route("/healthz", healthz)
        self.route("/readyz", readyz)
        self.route("/metrics", metrics_route)

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

    # ------------------------------------------------------------ consumer lag
    def export_lag(self, group_id: str, topics: Iterable[str], every_s: float = 10.0) -> None:
        """Exports goalpost_consumer_lag_messages per partition for a consumer group (log end
        offset minus committed offset), which faust does not export by itself. One poller per
        group: later calls for the same group add their topics to it."""
        if group_id in self._lag_topics:
            self._lag_topics[group_id].extend(topics)
            return
        self._lag_topics[group_id] = group_topics = list(topics)

        async def lag_task() -> None:
            await self.poll_lag(group_id, group_topics, every_s)

        self.app.task(lag_task)

    async def poll_lag(self, group_id: str, topics: list[str], every_s: float) -> None:
        """The lag poller of export_lag (runs until cancelled). A broker that is away, even while
        the service starts, only delays it: its start used to be outside the retry, and a service
        restarted during a broker restart crashed (`make faults` caught it)."""
        lag = GroupLag(self.settings.kafka_bootstrap, group_id, topics)
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
                        metrics.CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(behind)
                    self._group_lag[group_id] = sum(per_partition.values())
                except Exception as exc:  # broker away: keep the last values, try again
                    log.debug("lag poll failed: %r", exc)
                await asyncio.sleep(every_s)
        finally:
            await lag.stop()

    # ------------------------------------------------------------ run
    def main(self) -> None:
        """Runs the service as a faust worker in this process (blocking)."""
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


def _metrics_registry(service_memory: metrics.ServiceMemory) -> Any:
    """This process's metrics, or, when the service runs several workers, all of theirs (each
    worker writes its values to the shared directory; a scrape may reach any of them)."""
    if not os.environ.get(METRICS_DIR_ENV):
        return prometheus_client.REGISTRY  # service_memory is registered in it once, at start
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(service_memory)
    return registry


def problem(view: Any, status: int, title: str, detail: str, field: Optional[str] = None,
            headers: Optional[dict] = None, **extra: Any) -> Any:
    """An RFC 9457 problem+json response; `field` names the offending input field."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return view.bytes(dumps(body), status=status, content_type="application/problem+json",
                      headers=headers)


API_KEY = "goalpost.api_key"  # the request's key (an ApiKey) on routes with a scope


def refuse(view: Any, refusal: Refusal) -> Any:
    """The 401 or 403 problem response of a request without a key holding the route's scope."""
    if refusal.status == 401:
        return problem(view, 401, "Unauthorized", refusal.detail, headers={"WWW-Authenticate": 'Bearer realm="goalpost"'})
    return problem(view, 403, "Forbidden", refusal.detail)


def json_response(view: Any, body: Any, status: int = 200) -> Any:
    return view.bytes(dumps(body), status=status, content_type="application/json")


__all__ = ["Runtime", "API_KEY", "problem", "refuse", "json_response", "event"]
