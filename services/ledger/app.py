"""ledger: social currency in real time, exactly once.

Exactly once by Kafka transactions (consume-transform-produce): each batch's entries, balances,
dead letters and the consumed input offsets are committed in one transaction by a producer with
a fixed transactional id, so a restarted (or zombie) worker is fenced and a crash at any point
either commits the whole batch or none of it. The rules' memory (votes, accepts, caps, rings) is
rebuilt at start by re-applying the inputs up to the committed offsets; balances and leaderboard
totals are taken from the journal itself, so they always equal the journal. Redis views are
written after each commit with absolute values and idempotent members, so a crash between the
commit and the view update is repaired by the next start. Business rules: services/ledger/rules.py.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from services.core import metrics as core_metrics
from services.core.contracts import Balance, DeadLetter, LedgerEntry, utc_now
from services.core.kafka_io import read_until, topic_partitions
from services.core.runtime import Runtime, event, json_response, log, problem
from services.ledger.rules import InvalidEvent, LedgerState, UnknownPost, apply_event, load_rules
from services.ledger.views import WINDOWS, Views, current_window, epoch, window_keys

INPUTS = {"posts.classified.v1": "post", "reactions.v1": "reaction", "matches.v1": "match"}
# Facts before the reactions that refer to them, within a batch and in recovery alike.
INPUT_ORDER = {"posts.classified.v1": 0, "matches.v1": 1, "reactions.v1": 2}
GROUP_ID = "goalpost-ledger-journal"  # its offsets are committed inside the transactions
TRANSACTIONAL_ID = "goalpost-ledger-0"
RECENT_ENTRIES = 100
TRIM_EVERY_S = 2.0

ENTRIES = Counter("goalpost_ledger_entries_total", "Journal entries written, by reason", ["reason"])
MINTED = Counter("goalpost_ledger_points_minted_total", "Sum of positive entry deltas")
BURNED = Counter("goalpost_ledger_points_burned_total", "Sum of negative entry deltas (as a positive number)")
RINGS = Counter("goalpost_ledger_rings_flagged_total", "Reward rings flagged and dampened")
APPLY_SECONDS = Histogram("goalpost_ledger_apply_seconds", "Time from batch start to committed transaction",
                          buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
PARKED = Gauge("goalpost_ledger_parked_reactions", "Reactions waiting for their post")
RECOVERIES = Counter("goalpost_ledger_recoveries_total", "State rebuilds (at start and after failures)")

rt = Runtime("ledger", faust_consumes=False)
settings = rt.settings
RULES = load_rules()


def _key(name: str, *parts: str) -> str:
    return ":".join(("ledger", name) + parts)


def to_event(topic: str, value: bytes) -> dict[str, Any]:
    data = orjson.loads(value)
    if not isinstance(data, dict):
        raise InvalidEvent("$", "expected a JSON object")
    return {**data, "type": INPUTS[topic]}


class LedgerWorker:
    def __init__(self) -> None:
        self.state = LedgerState()
        self.views = Views()
        self.untrimmed: set[str] = set()  # users whose recent-entry set may hold more than RECENT_ENTRIES
        self.last_trim = 0.0

    # ------------------------------------------------------------ recovery
    async def recover(self, committed: dict[TopicPartition, int]) -> None:
        RECOVERIES.inc()
        started = time.perf_counter()
        self.state, self.views = LedgerState(), Views()
        n = 0
        async for batch in read_until(settings.kafka_bootstrap, INPUTS, committed):
            for msg in sorted(batch, key=lambda m: (INPUT_ORDER[m.topic], m.timestamp, m.partition, m.offset)):
                try:
                    apply_event(self.state, to_event(msg.topic, msg.value), RULES)
                except Exception:
                    pass  # dead-lettered when it was first consumed
                n += 1
        async for batch in read_until(settings.kafka_bootstrap, ["ledger.entries.v1"]):
            for msg in batch:
                self.views.add(orjson.loads(msg.value))
        # The journal is the truth for amounts: the rebuilt rules' memory only decides what comes next.
        self.state.balances = dict(self.views.balances)
        self.state.last_entry_ids = dict(self.views.last_entry_ids)
        await self.refresh_views(set(self.views.balances))
        event("ledger recovered", inputs=n, users=len(self.views.balances),
              seconds=round(time.perf_counter() - started, 2))

    # ------------------------------------------------------------ live
    async def run(self) -> None:
        s = settings
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=GROUP_ID,
                                    enable_auto_commit=False, isolation_level="read_committed",
                                    auto_offset_reset="earliest", max_poll_records=s.stream_batch * 4)
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, transactional_id=TRANSACTIONAL_ID,
                                    enable_idempotence=True, acks="all", linger_ms=5)
        await consumer.start()
        await producer.start()
        try:
            tps = await topic_partitions(consumer, INPUTS)
            consumer.assign(tps)
            committed = {}
            for tp in tps:
                committed[tp] = (await consumer.committed(tp)) or 0
                consumer.seek(tp, committed[tp])
            await self.recover(committed)
            rt.state_recovered.set()
            while True:
                got = await consumer.getmany(timeout_ms=200, max_records=s.stream_batch * 4)
                msgs = [m for batch in got.values() for m in batch]
                if msgs:
                    await self.apply_batch(producer, msgs)
        finally:
            rt.state_recovered.clear()
            await consumer.stop()
            await producer.stop()

    async def apply_batch(self, producer: AIOKafkaProducer, msgs: list) -> None:
        started = time.perf_counter()
        entries: list[LedgerEntry] = []
        dead: list[DeadLetter] = []
        for msg in sorted(msgs, key=lambda m: (INPUT_ORDER[m.topic], m.timestamp, m.partition, m.offset)):
            try:
                entries.extend(apply_event(self.state, to_event(msg.topic, msg.value), RULES))
                for ring in self.state.last_flagged:
                    RINGS.inc()
                    event("reward ring flagged", members=ring.get("members"))
            except (ValueError, InvalidEvent, UnknownPost) as exc:  # JSON errors are ValueErrors
                dead.append(DeadLetter.of("ledger", msg.topic, msg.partition, msg.offset, str(exc), msg.value or b""))
            except Exception as exc:  # a bug must not turn one message into a crash loop
                log.exception("ledger rule failed on %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                dead.append(DeadLetter.of("ledger", msg.topic, msg.partition, msg.offset,
                                          f"internal error: {exc!r}", msg.value or b""))
        changed = {}
        for e in entries:
            self.views.add(e)
            changed[e.user_id] = e
        balances = [Balance(user_id=u, balance=self.views.balances[u], updated_at=e.created_at,
                            last_entry_id=e.entry_id) for u, e in changed.items()]
        offsets = {}
        for m in msgs:
            tp = TopicPartition(m.topic, m.partition)
            offsets[tp] = max(offsets.get(tp, 0), m.offset + 1)
        encoded = [(e, e.to_json()) for e in entries]  # once: for the journal and the recent-entry view
        async with producer.transaction():
            for e, payload in encoded:
                await producer.send(e.topic, payload, key=e.key())
            for rec in (*balances, *dead):
                await producer.send(rec.topic, rec.to_json(), key=rec.key())
            await producer.send_offsets_to_transaction(offsets, GROUP_ID)
        for e in entries:
            ENTRIES.labels(e.reason).inc()
            (MINTED if e.delta > 0 else BURNED).inc(abs(e.delta))
        for d in dead:
            core_metrics.DLQ.labels("ledger", d.topic_name).inc()
        core_metrics.MESSAGES_IN.labels("ledger", "inputs").inc(len(msgs))
        core_metrics.MESSAGES_OUT.labels("ledger", "ledger.entries.v1").inc(len(entries))
        PARKED.set(self.state.pending_count)
        await self.refresh_views(set(changed), encoded)
        APPLY_SECONDS.observe(time.perf_counter() - started)

    # ------------------------------------------------------------ Redis views
    async def refresh_views(self, users: set[str], entries: list[tuple[LedgerEntry, bytes]] | None = None) -> None:
        """Absolute values and idempotent members: safe to repeat after a crash. Without
        `entries` (recovery) every balance and window is written again. `entries` are the new
        entries with their JSON. Recent-entry sets are trimmed to RECENT_ENTRIES every few
        seconds rather than on every write (readers take the newest N anyway)."""
        assert rt.redis is not None
        v = self.views
        windows: dict[tuple[str, str], set[str]] = {}
        recent: dict[str, dict[bytes, float]] = {}
        if entries is None:
            for name in ("day", "week"):
                for key, bucket in v.windows[name].items():
                    windows[(name, key)] = set(bucket)
        for e, payload in entries or []:
            for name, key in window_keys(e.created_at).items():
                windows.setdefault((name, key), set()).add(e.user_id)
            recent.setdefault(e.user_id, {})[payload] = epoch(e.created_at)
        self.untrimmed.update(recent)
        trim = time.monotonic() - self.last_trim > TRIM_EVERY_S
        if trim:
            self.last_trim = time.monotonic()
        async with rt.redis.pipeline(transaction=False) as pipe:
            if users:
                current = {u: v.balances[u] for u in users}
                pipe.hset(_key("balance"), mapping=current)
                pipe.zadd(_key("lb", "all"), current)
            for (name, key), members in windows.items():
                bucket = v.windows[name][key]
                pipe.zadd(_key("lb", name, key), {u: bucket[u] for u in members})
            for user, members in recent.items():
                pipe.zadd(_key("entries", user), members)
            for user in self.untrimmed if trim else ():
                pipe.zremrangebyrank(_key("entries", user), 0, -RECENT_ENTRIES - 1)
            await pipe.execute()
        if trim:
            self.untrimmed.clear()


worker = LedgerWorker()


@rt.app.task
async def _run_ledger() -> None:
    while True:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker gone, fenced, transaction failed: rebuild and go on
            event("ledger worker failed; recovering", error=repr(exc)[:300])
            await asyncio.sleep(1)


# ---------------------------------------------------------------- HTTP

async def balance_route(view, request, user_id: str) -> Any:
    assert rt.redis is not None
    raw = await rt.redis.hget(_key("balance"), user_id)
    return json_response(view, {"user_id": user_id, "balance": int(raw) if raw is not None else 0,
                                "known": raw is not None})


def _limit(request, default: int, maximum: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValueError(f"must be an integer from 1 to {maximum}")
    return int(raw)


async def entries_route(view, request, user_id: str) -> Any:
    try:
        limit = _limit(request, 20, RECENT_ENTRIES)
    except ValueError as exc:
        return problem(view, 422, "Unprocessable Content", str(exc), field="limit")
    assert rt.redis is not None
    raws = await rt.redis.zrevrange(_key("entries", user_id), 0, limit - 1)
    return json_response(view, {"user_id": user_id, "entries": [orjson.loads(r) for r in raws]})


async def leaderboard_route(view, request) -> Any:
    window = request.query.get("window", "all")
    if window not in WINDOWS:
        return problem(view, 422, "Unprocessable Content", f"must be one of {', '.join(WINDOWS)}", field="window")
    try:
        limit = _limit(request, 10, 100)
    except ValueError as exc:
        return problem(view, 422, "Unprocessable Content", str(exc), field="limit")
    key = _key("lb", "all") if window == "all" else _key("lb", window, current_window(window))
    assert rt.redis is not None
    rows = await rt.redis.zrevrange(key, 0, limit - 1, withscores=True)
    return json_response(view, {"window": window, "as_of": utc_now(), "leaders": [
        {"rank": i + 1, "user_id": u.decode(), "points": int(p)} for i, (u, p) in enumerate(rows)]})


rt.export_lag(GROUP_ID, INPUTS)
rt.route("/v1/users/{user_id:.+}/balance", balance_route)  # ids may hold "/" (ingest allows it)
rt.route("/v1/users/{user_id:.+}/entries", entries_route)
rt.route("/v1/leaderboard", leaderboard_route)
app = rt.app
