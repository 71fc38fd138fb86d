"""The worker's batch step, in memory: a batch of input records in, what one transaction commits
out (journal entries, balances, dead letters, input offsets) and the Redis views after it. No
Kafka, Redis or store I/O here (the state's store is read through its cache; see worker.py)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import orjson
from aiokafka import TopicPartition

from services.core.contracts import Balance, DeadLetter, LedgerEntry, utc_day
from services.core.runtime import log
from services.ledger.events import InvalidEvent, UnknownPost
from services.ledger.rule_table import RuleTable, load_rules
from services.ledger.stages import ONE_STAGE, Stage
from services.ledger.topics import BALANCES
from services.ledger.views import LiveViews, recent_member, view_key

# The rules yield to the event loop every this many events, so that the previous batch's
# transaction and Redis write make progress while this one is computed (a batch blocked the
# loop for ~150 ms, and the worker stood idle a third of the time waiting for its commits).
YIELD_EVERY = 50
TRIM_EVERY_S = 2.0  # recent-entry sets are trimmed to RECENT_ENTRIES this often, not on every write


def entry_days(entries: list[Any]) -> tuple[list[str], dict[str, set[str]]]:
    """Each entry's UTC day, and the users with entries on each day."""
    days = [utc_day(e.created_at) for e in entries]
    by_day: dict[str, set[str]] = {}
    for e, day in zip(entries, days):
        users = by_day.get(day)
        if users is None:
            users = by_day[day] = set()
        users.add(e.user_id)
    return days, by_day


def erased_users(events: list[tuple[Any, dict[str, Any]]]) -> list[str]:
    """The users a batch's erasure events (or a worker's erase credits) erase."""
    return [ev["user_id"] for _, ev in events if ev.get("type") == "erasure" or ev.get("op") == "erase"]


def to_event(topic: str, value: bytes, inputs: Mapping[str, str] = ONE_STAGE.inputs) -> dict[str, Any]:
    data = orjson.loads(value)
    if not isinstance(data, dict):
        raise InvalidEvent("$", "expected a JSON object")
    data["type"] = inputs[topic]  # a fresh dict of our own: tagged in place, not copied
    return data


def decode_batch(msgs: list, stage: Stage = ONE_STAGE) -> tuple[list[tuple[Any, dict[str, Any]]], list[tuple[Any, str]]]:
    """A batch's events in the order they are applied (live and in recovery alike), and the
    messages that are not events, each with the reason."""
    events, rejected = [], []
    order, inputs = stage.order, stage.inputs
    for msg in sorted(msgs, key=lambda m: (order[m.topic], m.timestamp, m.partition, m.offset)):
        try:
            events.append((msg, to_event(msg.topic, msg.value, inputs)))
        except (ValueError, InvalidEvent) as exc:  # JSON errors are ValueErrors
            rejected.append((msg, str(exc)))
        except Exception as exc:  # a bug must not turn one message into a crash loop
            log.exception("ledger could not decode %s[%s]@%s", msg.topic, msg.partition, msg.offset)
            rejected.append((msg, f"internal error: {exc!r}"))
    return events, rejected


def next_offsets(msgs: list) -> dict[TopicPartition, int]:
    """The next input offset per partition after these messages."""
    last: dict[tuple[str, int], int] = {}
    for m in msgs:
        where = (m.topic, m.partition)
        if last.get(where, -1) < m.offset:
            last[where] = m.offset
    return {TopicPartition(topic, p): offset + 1 for (topic, p), offset in last.items()}


def fetched_offsets(fetched: dict[TopicPartition, list]) -> dict[TopicPartition, int]:
    """next_offsets of a consumer's getmany() result, whose records per partition are in offset
    order: the last one of each partition says it."""
    return {tp: records[-1].offset + 1 for tp, records in fetched.items() if records}


def dead_letter(msg: Any, reason: str) -> DeadLetter:
    return DeadLetter.of("ledger", msg.topic, msg.partition, msg.offset, reason, msg.value or b"")


@dataclass
class PreparedBatch:
    started: float  # perf_counter at the start of prepare (apply latency runs to the commit)
    inputs: int
    encoded: list[tuple[LedgerEntry, bytes]]  # new entries with their JSON
    dead: list[DeadLetter]
    reasons: dict[str, int]  # entries by reason, and the points minted and burned, for the metrics
    minted: int
    burned: int
    out: list[tuple[str, bytes, Optional[bytes]]]  # (topic, key, value): entries, balances (None: a tombstone), dead letters
    offsets: dict[TopicPartition, int]  # next input offset per partition
    views: Optional[dict[str, Any]]  # the Redis views' new values after this batch (see views_update); None: a stage without views
    erased: list[str] = field(default_factory=list)  # users erased by this batch: out of every view
    flagged: list[dict[str, Any]] = field(default_factory=list)  # reward rings flagged by this batch


class BatchStep:
    """A stage's state (services/ledger/stages.py), its live views and the input offsets they
    reflect, advanced one batch at a time. Nothing else touches them while a batch is applied
    (checkpoints and recovery run between batches)."""

    def __init__(self, rules: RuleTable | None = None, stage: Stage = ONE_STAGE) -> None:
        self.rules = rules if rules is not None else load_rules()
        self.stage = stage
        self.state: Any = stage.new_state(None)
        self.views = LiveViews()
        self.applied: dict[TopicPartition, int] = {}  # next input offset per partition, as in self.state
        self.untrimmed: set[str] = set()  # users whose recent-entry set may hold more than RECENT_ENTRIES
        self.last_trim = 0.0

    def reset(self, state: Any, views_part: Optional[bytes] = None) -> None:
        """Starts again from `state` (empty, or restored from a checkpoint with `views_part`, its
        views' small part) with no input applied. The views live in the state's store."""
        self.views = LiveViews(state.store if self.stage.journal else None)
        if views_part is not None:
            self.views.restore(views_part)
        self.state, self.applied = state, {}

    def reapply(self, msgs: list) -> None:
        """Applies inputs whose entries are in the journal already (recovery): only the state
        moves. The rejected ones were dead-lettered when first consumed."""
        events, _ = decode_batch(msgs, self.stage)
        self.state.prefetch(ev for _, ev in events)
        apply = self.stage.apply
        entries: list[Any] = []
        for _, ev in events:
            try:
                entries.extend(apply(self.state, ev, self.rules))
            except Exception:
                pass  # dead-lettered when it was first consumed
        if self.stage.journal:  # the views are the state's too: they move with it
            days, by_day = entry_days(entries)
            self.views.prefetch(e.user_id for e in entries)
            for e, day in zip(entries, days):
                self.views.count(e.user_id, e.delta, day)
            for user in erased_users(events):
                self.views.forget(user)
        self.applied.update(next_offsets(msgs))
        self.state.evict()

    async def prepare(self, msgs: list, offsets: Optional[dict[TopicPartition, int]] = None) -> PreparedBatch:
        """Applies the rules to a batch of input records. `offsets`: next_offsets(msgs), if the
        caller knows them already."""
        started = time.perf_counter()
        if offsets is None:
            offsets = next_offsets(msgs)
        events, rejected = decode_batch(msgs, self.stage)
        return await self.apply(events, rejected, offsets, started)

    async def apply(self, events: list[tuple[Any, dict[str, Any]]], rejected: list[tuple[Any, str]],
                    offsets: dict[TopicPartition, int], started: Optional[float] = None) -> PreparedBatch:
        """Applies a decoded batch (decode_batch: its events in order, and the records that are
        not events): the entries, balances, dead letters and input offsets that one transaction
        will commit, and the views after it. CPU only, but it lets the event loop run every
        YIELD_EVERY events."""
        if started is None:
            started = time.perf_counter()
        dead = [dead_letter(msg, reason) for msg, reason in rejected]
        entries: list[Any] = []  # LedgerEntry records, or the resolver's Credit records
        flagged: list[dict[str, Any]] = []
        state, rules, apply_event = self.state, self.rules, self.stage.apply
        state.prefetch(ev for _, ev in events)
        for i, (msg, ev) in enumerate(events):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            try:
                entries.extend(apply_event(state, ev, rules))
                flagged += state.last_flagged
            except (ValueError, InvalidEvent, UnknownPost) as exc:
                dead.append(dead_letter(msg, str(exc)))
            except Exception as exc:  # a bug must not turn one message into a crash loop
                log.exception("ledger rule failed on %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                dead.append(dead_letter(msg, f"internal error: {exc!r}"))
        if not self.stage.journal:  # the resolver: credits out, no views
            self.applied.update(offsets)
            state.evict()
            credits: list[tuple[str, bytes, Optional[bytes]]] = [(c.topic, c.key(), c.to_json()) for c in entries]
            credits += [(d.topic, d.key(), d.to_json()) for d in dead]
            return PreparedBatch(started, len(events) + len(rejected), [], dead, {}, 0, 0, credits, offsets,
                                 None, [], flagged)
        # One pass over the new entries for the views, the changed balances, the Redis update
        # and the metrics (separate passes, and the day computed twice, cost ~5% of the loop).
        views = self.views
        changed: dict[str, LedgerEntry] = {}
        recent: dict[str, list] = {}
        reasons: dict[str, int] = {}
        minted = burned = 0
        encoded = [(e, e.to_json()) for e in entries]  # once: for the journal and the recent-entry view
        days, by_day = entry_days(entries)  # (a batch's entries fall on a few days: their windows once each)
        views.prefetch(e.user_id for e in entries)
        for (e, payload), day in zip(encoded, days):
            user, delta, created = e.user_id, e.delta, e.created_at
            views.count(user, delta, day)
            changed[user] = e
            members = recent.get(user)
            if members is None:
                members = recent[user] = []
            members += recent_member(created, payload)
            reasons[e.reason] = reasons.get(e.reason, 0) + 1
            if delta > 0:
                minted += delta
            else:
                burned -= delta
        erased = erased_users(events)
        for user in erased:  # out of the views; a tombstone takes their balance off the compacted topic
            views.forget(user)
            changed.pop(user, None)
            recent.pop(user, None)
            for users_of_day in by_day.values():
                users_of_day.discard(user)
        balances = [Balance(user_id=u, balance=views.balance(u), updated_at=e.created_at,
                            last_entry_id=e.entry_id) for u, e in changed.items()]
        self.applied.update(offsets)
        state.evict()  # between events: no rule holds a value it is about to change
        out: list[tuple[str, bytes, Optional[bytes]]] = [(e.topic, e.key(), payload) for e, payload in encoded]
        out += [(rec.topic, rec.key(), rec.to_json()) for rec in (*balances, *dead)]
        out += [(BALANCES, user.encode(), None) for user in erased]
        return PreparedBatch(started, len(events) + len(rejected), encoded, dead, reasons, minted, burned, out,
                             offsets, self.views_update(by_day, recent), erased, flagged)

    def views_update(self, by_day: dict[str, set[str]], recent: dict[str, list]) -> dict:
        """The Redis views after a batch (LiveViews.update) for the users it changed, as they
        stand now: exactly what its transaction commits, however late the write runs.
        Recent-entry sets are trimmed to RECENT_ENTRIES every TRIM_EVERY_S rather than on every
        write (readers take the newest N anyway)."""
        self.untrimmed.update(recent)
        trim: list[str] = []
        if time.monotonic() - self.last_trim > TRIM_EVERY_S:
            trim = [view_key("entries", user) for user in self.untrimmed]
            self.last_trim = time.monotonic()
            self.untrimmed.clear()
        return self.views.update(by_day, recent, trim)
