"""Ledger rules: social currency as pure, deterministic functions (no Kafka, no Redis, no I/O).

No Kafka or Redis here. The ledger service decodes a message, calls :func:`apply_event` with its
:class:`LedgerState`, writes the returned entries to ``ledger.entries.v1`` and the changed balances
to ``ledger.balances.v1``; the same code rebuilds the state from the input topics
(:func:`replay`) and checks a journal (:func:`balances_from_entries`, for ``goalpost ledger verify``).

Events (one dict each, the record plus a ``type``)::

    {"type": "post", ...ClassifiedPost}   post_id, author_id, reply_to, created_at (rest ignored)
    {"type": "reaction", ...Reaction}     reaction_id, actor_id, post_id, kind, created_at
    {"type": "match", ...Match}           post_id, candidates [{helper_id, ...}], asked?, matched_at
    {"type": "adjustment", ...Adjustment} adjustment_id, user_id, delta, created_at
    {"type": "erasure", ...Erasure}       user_id: no entry is written for the user from then on

Rules (values in rules.toml; every rule below has a test in tests/unit/test_ledger_rules.py):

* post: records author and reply_to; earns ``post_root``/``post_reply`` (default 0).
* accept (on a reply, by the author of the thread's root post; anyone else: no-op):
  ``accept_author`` to the reply's author, ``accept_accepter`` to the accepter, and
  ``routed_helper_bonus`` to the reply's author when a match for the root post asked them.
  An answer by an asked helper with a standing upvote and no such accept earns the same bonus
  (``upvote:routed_bonus``), for as long as that holds, whatever order the match, the votes
  and the accept arrive in.
  One accepted reply per root post: accepting another reply first compensates the old accept.
  Accepting one's own reply moves the accept but grants nothing.
* unaccept (of the accepted reply, by the root's author): compensates everything the accept granted.
* upvote / downvote / unvote: one standing vote per (actor, post); a vote on a reply whose
  thread root is not seen yet waits for it (parked, as an accept). upvote gives ``upvote_reply`` or
  ``upvote_root``; downvote ``downvote_author`` to the author and ``downvote_voter`` to the voter;
  switching compensates the old vote first; unvote compensates.
* thanks: ``thanks`` to the post's author, once per (actor, post).
* Self-dealing: votes and thanks on one's own post are no-ops; repeating a reaction (same vote, same
  accept, second thanks, unvote without a vote, unaccept of a reply not accepted) is a no-op; a
  reaction_id already processed is a no-op (exactly once even if ingest duplicated a message).
* Serial voting: an actor's upvotes on one recipient's posts past ``serial_votes`` within
  ``serial_window_s`` are granted and reversed at once (reason ``serial_vote_reversal``).
* Daily cap: upvote + thanks points granted to a user per UTC day (of the reaction's created_at)
  are capped at ``daily_vote_points``; accepts exempt. A reward that hits the cap is cut down
  (reason suffix ``:capped``). A compensation reverses exactly what was granted and gives the
  headroom back to the original day.
* Rings: standing positive reactions are counted per ordered pair giver -> receiver. A cycle of
  "heavy" pairs (>= ``min_pair_count``; 2 users, or up to ``max_size`` round a circle) whose
  members reward ring members at >= ``rate_ratio`` times their per-user rate with everyone else is
  flagged (``state.flagged_rings``) and further rewards between its members are scaled to
  ``damping_percent`` (reason suffix ``:dampened``), the completing reaction included.

Entries: ``entry_id`` = first 32 hex digits of sha256(source_event_id, user_id, base reason). The
base reason (``upvote``, ``accept:accepter``, ``upvote:reversed`` ...) excludes the ``:capped`` /
``:dampened`` modifiers and the rules version, so redelivery or replay writes the same ids.
``created_at`` of an entry is the causing event's created_at (a late routed bonus uses the accept's).
Reversals are new entries (reason ``<original reason>:reversed``), never deletions.

Unknown posts (decision): reactions arrive on ``reactions.v1`` while their post may still be in
``classify``, so a reaction on a post not seen yet is *parked* in the state (counted in
``state.counters["parked"]``) and applied, with its own ids and created_at, when the post arrives
(the post's apply_event returns those entries too). When ``max_pending`` reactions are parked,
apply_event raises :class:`UnknownPost` instead; the service sends that message to ``dlq.v1``.
:func:`expire_pending` hands back reactions parked for too long, for the DLQ as well.
Malformed events raise :class:`InvalidEvent` (also for the DLQ) before the state is touched.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import hashlib
import marshal
import os
import sys
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from services.core.contracts import REACTION_KINDS, LedgerEntry, utc_day
from services.ledger.store import StateStore

RULES_PATH = Path(__file__).with_name("rules.toml")

EVENT_TYPES = frozenset({"post", "reaction", "match", "adjustment", "erasure"})
SERIAL_REVERSAL = "serial_vote_reversal"  # reason of the entries that reverse serial votes
ROUTED_UPVOTE = "upvote:routed_bonus"  # base reason of the routed bonus an upvote pays
ADJUSTMENT_SEEN = "adjustment:"  # prefix of adjustment ids in LedgerState.seen
STATE_SCHEMA = 4  # 2: vote records are lists (VOTE_*), grants are tuples; 3: votes and thanks keyed by vote_key; 4: no given_totals
# Fields of a vote record in LedgerState.votes
VOTE_KIND, VOTE_DAY, VOTE_CAP_COUNTED, VOTE_GRANTS = range(4)


def vote_key(post_id: str, actor_id: str) -> str:
    """One key per (post, actor): a vote or a thanks. The unit separator cannot occur in ids
    that ingest accepted (control characters are stripped)."""
    return f"{post_id}\x1f{actor_id}"

_RING_PATH_BUDGET = 10_000  # max search steps per ring check


# --------------------------------------------------------------------------------------- errors


class LedgerError(Exception):
    """Base class for events the ledger cannot apply (the service sends them to dlq.v1)."""


class InvalidEvent(LedgerError, ValueError):
    """The event is malformed; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnknownPost(LedgerError):
    """A reaction names a post the ledger has not seen and the parking space is full."""

    def __init__(self, post_id: str, event: Mapping[str, Any]) -> None:
        super().__init__(f"post {post_id!r} not seen yet and the pending buffer is full")
        self.post_id = post_id
        self.event = dict(event)


# -------------------------------------------------------------------------------------- entries


# An entry is the contract's LedgerEntry record itself (one definition of the wire format).
Entry = LedgerEntry


def entry_id_for(source_event_id: str, user_id: str, base_reason: str) -> str:
    """Deterministic id from the cause; independent of rule values and of the rules version."""
    raw = "\x1f".join((source_event_id, user_id, base_reason)).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:32]


def balances_from_entries(entries: Iterable[Mapping[str, Any] | Entry]) -> dict[str, int]:
    """Sum a journal per user, counting each entry_id once (Kafka may hold duplicates)."""
    seen: set[str] = set()
    out: dict[str, int] = {}
    for e in entries:
        d = e.to_dict() if isinstance(e, Entry) else e
        eid = d["entry_id"]
        if eid in seen:
            continue
        seen.add(eid)
        out[d["user_id"]] = out.get(d["user_id"], 0) + int(d["delta"])
    return out


# ----------------------------------------------------------------------------------- rule table


@dataclass(frozen=True)
class RuleTable:
    version: str
    # points
    post_root: int = 0
    post_reply: int = 0
    accept_author: int = 15
    accept_accepter: int = 2
    routed_helper_bonus: int = 5
    upvote_reply: int = 10
    upvote_root: int = 5
    downvote_author: int = -2
    downvote_voter: int = -1
    thanks: int = 5
    # cap
    daily_vote_cap: int = 200
    cap_days_kept: int = 3
    # routing
    require_match_before_reply: bool = False
    # rings
    ring_positive_kinds: frozenset[str] = frozenset({"upvote", "thanks", "accept"})
    ring_min_pair_count: int = 5
    ring_max_size: int = 3
    ring_rate_ratio: int = 5
    ring_damping_percent: int = 50
    # serial voting: upvotes by one actor on one recipient's posts past this many within the
    # window are reversed (GOALPOST_SERIAL_VOTES overrides the table)
    serial_votes: int = 10
    serial_window_s: int = 86400
    # audit / limits
    zero_entries: bool = True
    max_pending: int = 100_000

    _POINTS = (
        "post_root", "post_reply", "accept_author", "accept_accepter", "routed_helper_bonus",
        "upvote_reply", "upvote_root", "downvote_author", "downvote_voter", "thanks",
    )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "RuleTable":
        """Build and validate a table from the parsed TOML; unknown keys are errors (typos)."""

        def section(name: str, allowed: set[str]) -> Mapping[str, Any]:
            sec = data.get(name, {})
            if not isinstance(sec, Mapping):
                raise ValueError(f"rules: [{name}] must be a table")
            extra = set(sec) - allowed
            if extra:
                raise ValueError(f"rules: unknown key(s) in [{name}]: {sorted(extra)}")
            return sec

        def integer(sec: Mapping[str, Any], key: str, default: int, where: str, lo: int | None = None,
                    hi: int | None = None) -> int:
            v = sec.get(key, default)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"rules: {where}.{key} must be an integer, got {v!r}")
            if lo is not None and v < lo or hi is not None and v > hi:
                raise ValueError(f"rules: {where}.{key}={v} out of range [{lo}, {hi}]")
            return v

        def boolean(sec: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
            v = sec.get(key, default)
            if not isinstance(v, bool):
                raise ValueError(f"rules: {where}.{key} must be true or false, got {v!r}")
            return v

        extra_top = set(data) - {"version", "points", "cap", "routing", "rings", "serial", "audit", "limits"}
        if extra_top:
            raise ValueError(f"rules: unknown top-level key(s): {sorted(extra_top)}")
        version = data.get("version")
        if not isinstance(version, str) or not version.strip():
            raise ValueError("rules: version must be a non-empty string")
        d = cls(version=version)  # defaults
        kw: dict[str, Any] = {"version": version}
        pts = section("points", set(cls._POINTS))
        for k in cls._POINTS:
            kw[k] = integer(pts, k, getattr(d, k), "points")
        for k in ("accept_author", "accept_accepter", "routed_helper_bonus", "upvote_reply",
                  "upvote_root", "thanks"):
            if kw[k] < 0:
                raise ValueError(f"rules: points.{k} must be >= 0 (rewards are damped/capped)")
        cap = section("cap", {"daily_vote_points", "days_kept"})
        kw["daily_vote_cap"] = integer(cap, "daily_vote_points", d.daily_vote_cap, "cap", 0)
        kw["cap_days_kept"] = integer(cap, "days_kept", d.cap_days_kept, "cap", 1)
        routing = section("routing", {"require_match_before_reply"})
        kw["require_match_before_reply"] = boolean(
            routing, "require_match_before_reply", d.require_match_before_reply, "routing")
        rings = section("rings", {"positive_kinds", "min_pair_count", "max_size", "rate_ratio",
                                  "damping_percent"})
        kinds = rings.get("positive_kinds", sorted(d.ring_positive_kinds))
        if not isinstance(kinds, list) or not set(kinds) <= {"upvote", "thanks", "accept"}:
            raise ValueError("rules: rings.positive_kinds must list some of upvote, thanks, accept")
        kw["ring_positive_kinds"] = frozenset(kinds)
        kw["ring_min_pair_count"] = integer(rings, "min_pair_count", d.ring_min_pair_count, "rings", 1)
        kw["ring_max_size"] = integer(rings, "max_size", d.ring_max_size, "rings", 2, 6)
        kw["ring_rate_ratio"] = integer(rings, "rate_ratio", d.ring_rate_ratio, "rings", 1)
        kw["ring_damping_percent"] = integer(rings, "damping_percent", d.ring_damping_percent,
                                             "rings", 0, 100)
        serial = section("serial", {"votes", "window_hours"})
        kw["serial_votes"] = integer(serial, "votes", d.serial_votes, "serial", 1)
        kw["serial_window_s"] = 3600 * integer(serial, "window_hours", d.serial_window_s // 3600, "serial", 1, 24 * 30)
        audit = section("audit", {"zero_entries"})
        kw["zero_entries"] = boolean(audit, "zero_entries", d.zero_entries, "audit")
        limits = section("limits", {"max_pending"})
        kw["max_pending"] = integer(limits, "max_pending", d.max_pending, "limits", 0)
        return cls(**kw)


def load_rules(path: str | Path | None = None) -> RuleTable:
    """Load and validate a rule table; default: rules.toml beside this module."""
    p = Path(path) if path is not None else RULES_PATH
    with p.open("rb") as f:
        table = RuleTable.from_mapping(tomllib.load(f))
    votes = os.environ.get("GOALPOST_SERIAL_VOTES", "").strip()
    if votes:  # the operator's setting (README) over the table's default
        if not votes.isdigit() or int(votes) < 1:
            raise ValueError(f"GOALPOST_SERIAL_VOTES must be a whole number >= 1, got {votes!r}")
        table = dataclasses.replace(table, serial_votes=int(votes))
    return table


# ------------------------------------------------------------------------------------ the state


class LedgerState:
    """Everything the rules remember. JSON-serialisable via to_dict/from_dict (snapshots)."""

    def __init__(self, store: StateStore | None = None) -> None:
        # The maps that grow with every post and reaction ever seen are plain dicts here, or,
        # given a store (the service), maps on disk with a bounded cache (services/ledger/store.py).
        self.store = store
        # post_id -> (author_id, reply_to or None, created_at)
        self.posts: dict[str, tuple[Any, ...]] = store.map("posts", mutable=False) if store else {}  # type: ignore[assignment]
        # root post_id -> helper_id -> earliest matched_at ("" when the match had none)
        self.routed: dict[str, dict[str, str]] = store.map("routed") if store else {}  # type: ignore[assignment]
        # root post_id -> {"reply", "author", "accepter", "reaction_id", "created_at", "bonus", "grants"}
        self.accepted: dict[str, dict[str, Any]] = store.map("accepted") if store else {}  # type: ignore[assignment]
        # vote_key(post_id, actor_id) -> [kind "up"|"down", day, cap_counted, grants] (a list,
        # not a dict: there is one per standing vote, and a dict cost three times the memory).
        # Keyed by vote, not by post: a popular post is then not one huge value to cache.
        self.votes: dict[str, list[Any]] = store.map("votes", mutable=False) if store else {}  # type: ignore[assignment]
        # root post_id -> reply_id -> standing upvotes of that reply (replies with any, only)
        self.upvoted: dict[str, dict[str, int]] = store.map("upvoted") if store else {}  # type: ignore[assignment]
        # reply_id -> the standing grant of its upvote-paid routed bonus (see _sync_upvote_bonus)
        self.upvote_bonus: dict[str, list[Any]] = store.map("upvote_bonus", mutable=False) if store else {}  # type: ignore[assignment]
        # vote_key(post_id, actor_id) of every thanks
        self.thanked: set[str] = store.set("thanked") if store else set()  # type: ignore[assignment]
        # UTC day -> user -> vote-earned points granted that day
        self.cap_used: dict[str, dict[str, int]] = {}
        self.cap_max_day: str = ""
        # "actor\x1frecipient" -> epoch seconds of the actor's upvotes on the recipient's posts
        # within the serial-voting window (pruned on each vote)
        self.serial: dict[str, list[float]] = store.map("serial", mutable=False) if store else {}  # type: ignore[assignment]
        # giver -> receiver -> standing positive reactions (a giver's total is their sum, needed
        # only when a ring is checked: not kept apart, which cost a lookup on every reaction)
        self.pair_counts: dict[str, dict[str, int]] = store.map("pair_counts") if store else {}  # type: ignore[assignment]
        # giver -> receivers whose rewards from giver are dampened (members of a flagged ring)
        self.damped: dict[str, set[str]] = {}
        # [{"members", "flagged_at", "source_event_id", "counts": [[giver, receiver, n], ...]}]
        self.flagged_rings: list[dict[str, Any]] = []
        # user -> points, for offline replays and tests. None with a store: the service keeps
        # balances in its views (one copy per user, not two: ~100 bytes each).
        self.balances: dict[str, int] | None = {} if store is None else None
        # missing post_id -> reactions waiting for it (in arrival order)
        self.pending: dict[str, list[dict[str, Any]]] = {}
        # users erased on request: no entry is written for them any more
        self.erased: set[str] = set()  # (few: kept with the small parts of a checkpoint)
        # reaction_ids already processed (or parked)
        self.seen: set[str] = store.set("seen") if store else set()  # type: ignore[assignment]
        # outcome -> count (applied, parked, noop:self, noop:repeat, noop:duplicate, ...)
        self.counters: dict[str, int] = {}
        # not serialised: per-call notes for the service (logs/metrics), and a derived index
        self.last_outcome: str = ""
        self.last_flagged: list[dict[str, Any]] = []
        self._heavy: dict[str, set[str]] = {}
        self._heavy_min: int | None = None
        self._pending_n = 0

    # -- snapshots ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": STATE_SCHEMA,
            "posts": dict(self.posts.items()),
            "routed": dict(self.routed.items()),
            "accepted": dict(self.accepted.items()),
            "votes": dict(self.votes.items()),
            "thanked": sorted(self.thanked),
            "upvoted": dict(self.upvoted.items()),
            "upvote_bonus": dict(self.upvote_bonus.items()),
            "cap_used": self.cap_used,
            "cap_max_day": self.cap_max_day,
            "pair_counts": dict(self.pair_counts.items()),
            "serial": dict(self.serial.items()),
            "damped": {g: sorted(r) for g, r in self.damped.items()},
            "flagged_rings": self.flagged_rings,
            "balances": self.balances,
            "pending": self.pending,
            "seen": sorted(self.seen),
            "erased": sorted(self.erased),
            "counters": self.counters,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LedgerState":
        if d.get("schema") != STATE_SCHEMA:
            raise ValueError(f"ledger state schema {d.get('schema')!r} != {STATE_SCHEMA}")
        d = copy.deepcopy(dict(d))
        s = cls()
        s.posts = {p: tuple(v) for p, v in d["posts"].items()}
        s.routed = d["routed"]
        s.accepted = d["accepted"]
        s.votes = d["votes"]
        s.thanked = set(d["thanked"])
        s.upvoted = d.get("upvoted", {})
        s.upvote_bonus = d.get("upvote_bonus", {})
        s.cap_used = d["cap_used"]
        s.cap_max_day = d["cap_max_day"]
        s.pair_counts = d["pair_counts"]
        s.serial = d.get("serial", {})
        s.damped = {g: set(r) for g, r in d["damped"].items()}
        s.flagged_rings = d["flagged_rings"]
        s.balances = d["balances"]
        s.pending = d["pending"]
        s._pending_n = sum(len(v) for v in s.pending.values())
        s.seen = set(d["seen"])
        s.erased = set(d.get("erased", ()))
        s.counters = d["counters"]
        return s

    # -- checkpoints (with a store) -----------------------------------------------------------

    def small_parts(self) -> bytes:
        """The state that is not in the store's maps (it grows with users and days, not with
        every event), for a checkpoint. Balances are left out: the journal is their truth."""
        return marshal.dumps((STATE_SCHEMA, self.cap_used, self.cap_max_day, self.damped,
                              self.flagged_rings, self.pending, self.counters, self._heavy, self._heavy_min,
                              self.erased))

    @classmethod
    def restore(cls, store: StateStore, small: bytes) -> "LedgerState":
        """The state of a checkpoint: the store's maps and the blob of :meth:`small_parts`."""
        parts = marshal.loads(small)
        if parts[0] != STATE_SCHEMA:
            raise ValueError(f"ledger state schema {parts[0]!r} != {STATE_SCHEMA}")
        s = cls(store)
        (_, s.cap_used, s.cap_max_day, s.damped, s.flagged_rings, s.pending,
         s.counters, s._heavy, s._heavy_min) = parts[:9]
        s.erased = set(parts[9]) if len(parts) > 9 else set()
        s._pending_n = sum(len(v) for v in s.pending.values())
        return s

    def prefetch(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Tells the store the keys that a batch of events will look up first (without a store,
        nothing to do). Keys found later in the rules (a thread's root, a ring) are read singly."""
        if self.store is None:
            return
        posts, roots, reactions, votes, thanks, actors = set(), set(), set(), set(), set(), set()
        for ev in events:
            post_id, etype = ev.get("post_id"), ev.get("type")
            if not isinstance(post_id, str):
                continue
            posts.add(post_id)
            if etype == "reaction":
                rid, actor, kind = ev.get("reaction_id"), ev.get("actor_id"), ev.get("kind")
                if isinstance(rid, str) and isinstance(actor, str):
                    reactions.add(rid)
                    actors.add(actor)
                    if kind == "thanks":
                        thanks.add(vote_key(post_id, actor))
                    elif kind in ("upvote", "downvote", "unvote"):
                        votes.add(vote_key(post_id, actor))
            elif etype == "match":
                roots.add(post_id)
            elif isinstance(ev.get("reply_to"), str):
                posts.add(ev["reply_to"])
        self.posts.prefetch(posts)  # type: ignore[attr-defined]
        self.routed.prefetch(roots)  # type: ignore[attr-defined]
        self.upvoted.prefetch(roots)  # type: ignore[attr-defined]
        self.upvote_bonus.prefetch(posts)  # type: ignore[attr-defined]
        self.accepted.prefetch(roots)  # type: ignore[attr-defined]
        self.seen.prefetch(reactions)  # type: ignore[attr-defined]
        self.votes.prefetch(votes)  # type: ignore[attr-defined]
        self.thanked.prefetch(thanks)  # type: ignore[attr-defined]
        self.pair_counts.prefetch(actors)  # type: ignore[attr-defined]

    def evict(self) -> None:
        """Lets the store drop cached values beyond its capacity (between events only)."""
        if self.store is not None:
            self.store.evict()

    # -- helpers -----------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return self._pending_n

    def _count(self, outcome: str) -> None:
        self.counters[outcome] = self.counters.get(outcome, 0) + 1

    def _heavy_index(self, min_count: int) -> dict[str, set[str]]:
        if self._heavy_min != min_count:
            self._heavy = {}
            for g, recv in self.pair_counts.items():
                hs = {r for r, n in recv.items() if n >= min_count}
                if hs:
                    self._heavy[g] = hs
            self._heavy_min = min_count
        return self._heavy


# --------------------------------------------------------------------------------- validation


def _req_str(ev: Mapping[str, Any], key: str) -> str:
    v = ev.get(key)
    if not isinstance(v, str) or not v:
        raise InvalidEvent(key, "required non-empty string")
    return v


def _parse_time(value: Any, key: str) -> datetime:
    dt = _naive_or_aware(value, key)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _naive_or_aware(value: Any, key: str) -> datetime:
    """The timestamp as parsed (validation only needs this much: no conversion to UTC)."""
    if not isinstance(value, str) or not value:
        raise InvalidEvent(key, "required RFC 3339 timestamp")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(key, f"not an RFC 3339 timestamp: {value!r}") from None


def _utc_day(created_at: str) -> str:
    """The UTC day of a timestamp that _validate accepted. Interned: the day is kept in every
    standing vote, so one copy per day rather than per vote."""
    return sys.intern(utc_day(created_at))


def _validate(event: Mapping[str, Any]) -> str:
    if type(event) is not dict and not isinstance(event, Mapping):  # (the ABC check costs 0.4 µs)
        raise InvalidEvent("type", "event must be a JSON object")
    etype = event.get("type")
    if etype not in EVENT_TYPES:
        raise InvalidEvent("type", f"must be one of {sorted(EVENT_TYPES)}, got {etype!r}")
    if etype == "erasure":
        _req_str(event, "user_id")
        return etype
    if etype == "adjustment":
        _req_str(event, "adjustment_id")
        _req_str(event, "user_id")
        delta = event.get("delta")
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise InvalidEvent("delta", "must be a non-zero whole number")
        _naive_or_aware(event.get("created_at"), "created_at")
        return etype
    if etype == "post":
        _req_str(event, "post_id")
        _req_str(event, "author_id")
        rt = event.get("reply_to")
        if rt is not None and (not isinstance(rt, str) or not rt):
            raise InvalidEvent("reply_to", "must be a post_id or null")
        _naive_or_aware(event.get("created_at"), "created_at")
    elif etype == "reaction":
        _req_str(event, "reaction_id")
        _req_str(event, "actor_id")
        _req_str(event, "post_id")
        if event.get("kind") not in REACTION_KINDS:
            raise InvalidEvent("kind", f"must be one of {sorted(REACTION_KINDS)}")
        _naive_or_aware(event.get("created_at"), "created_at")
    else:
        _req_str(event, "post_id")
        cands = event.get("candidates")
        if not isinstance(cands, list):
            raise InvalidEvent("candidates", "must be a list")
        for i, c in enumerate(cands):
            hid = c.get("helper_id") if isinstance(c, Mapping) else None
            if not isinstance(hid, str) or not hid:
                raise InvalidEvent(f"candidates[{i}].helper_id", "required non-empty string")
        asked = event.get("asked")
        if asked is not None and not (isinstance(asked, list) and all(isinstance(h, str) and h for h in asked)):
            raise InvalidEvent("asked", "must be a list of non-empty strings")
        if event.get("matched_at") not in (None, ""):
            _parse_time(event.get("matched_at"), "matched_at")
    return etype


# ---------------------------------------------------------------------------------- the rules


class _Out:
    """Collects the entries of one apply_event call and keeps their ids unique."""

    def __init__(self, state: LedgerState, rules: RuleTable) -> None:
        self.state = state
        self.rules = rules
        self.entries: list[Entry] = []
        self._ids: set[str] = set()

    def emit(self, user: str, delta: int, base: str, reason: str, source: str, created: str) -> Entry:
        eid = entry_id_for(source, user, base)
        n = 1
        while eid in self._ids:  # cannot happen with the rules below; kept deterministic anyway
            n += 1
            eid = entry_id_for(source, user, f"{base}#{n}")
        self._ids.add(eid)
        e = Entry(entry_id=eid, user_id=user, delta=delta, reason=reason, source_event_id=source,
                  created_at=created)
        if user in self.state.erased:  # erased on request: nothing more is written for them
            return e
        self.entries.append(e)
        balances = self.state.balances
        if balances is not None:
            balances[user] = balances.get(user, 0) + delta
        return e

    def grant(self, user: str, amount: int, base: str, source: str, created: str, *,
              damped: bool = False, cap_day: str | None = None) -> tuple[Any, ...] | None:
        """Grant `amount` (after damping and cap). Returns the grant record (user, delta, base,
        reason) to keep for a later reversal, or None when nothing was granted."""
        if amount == 0:
            return None
        reason = base
        if damped and amount > 0:
            amount = amount * self.rules.ring_damping_percent // 100
            reason += ":dampened"
        if cap_day is not None and amount > 0:
            allowed = _cap_take(self.state, self.rules, user, cap_day, amount)
            if allowed < amount:
                reason += ":capped"
            amount = allowed
        if amount == 0:
            if self.rules.zero_entries:
                self.emit(user, 0, base, reason, source, created)
            return None
        self.emit(user, amount, base, reason, source, created)
        return (user, amount, base, sys.intern(reason))  # a tuple, and one copy of each reason: kept per vote

    def reverse_as(self, grants: list[tuple[Any, ...]], reason: str, source: str, created: str) -> None:
        """Reverses grants under one reason of their own (serial_vote_reversal)."""
        for user, delta, _, _ in grants:
            if delta:
                self.emit(user, -delta, reason, reason, source, created)

    def reverse(self, grants: list[tuple[Any, ...]], source: str, created: str) -> None:
        for user, delta, base, reason in grants:
            if delta:
                self.emit(user, -delta, f"{base}:reversed", f"{reason}:reversed", source, created)


def _cap_take(st: LedgerState, rules: RuleTable, user: str, day: str, amount: int) -> int:
    if day > st.cap_max_day:
        st.cap_max_day = day
        horizon = (date.fromisoformat(day) - timedelta(days=rules.cap_days_kept)).isoformat()
        for old in [d for d in st.cap_used if d < horizon]:
            del st.cap_used[old]
    used_by_day = st.cap_used.setdefault(day, {})
    used = used_by_day.get(user, 0)
    allowed = max(0, min(amount, rules.daily_vote_cap - used))
    if allowed:
        used_by_day[user] = used + allowed
    return allowed


def _cap_give_back(st: LedgerState, user: str, day: str, amount: int) -> None:
    by_day = st.cap_used.get(day)
    if not amount or by_day is None or user not in by_day:
        return  # the day was pruned: nothing to give back
    left = by_day[user] - amount
    if left > 0:
        by_day[user] = left
    else:
        del by_day[user]


# -- rings -------------------------------------------------------------------------------------


def _pair_add(st: LedgerState, rules: RuleTable, kind: str, giver: str, receiver: str, d: int,
              source: str, created: str) -> None:
    """Count (+1) or uncount (-1) a standing positive reaction giver -> receiver, and look for a
    ring when the pair just became or stays heavy."""
    if kind not in rules.ring_positive_kinds or giver == receiver:
        return
    heavy = st._heavy_index(rules.ring_min_pair_count)
    n = _count_in(st.pair_counts, giver, receiver, d)
    if n >= rules.ring_min_pair_count:
        heavy.setdefault(giver, set()).add(receiver)
    elif giver in heavy:
        heavy[giver].discard(receiver)
        if not heavy[giver]:
            del heavy[giver]
    if d > 0 and n >= rules.ring_min_pair_count and receiver not in st.damped.get(giver, ()):
        _detect_ring(st, rules, giver, receiver, source, created)


def _ring_paths(heavy: dict[str, set[str]], start: str, goal: str, max_edges: int) -> Iterable[list[str]]:
    """Simple paths start -> ... -> goal over heavy pairs, shortest first, deterministic order."""
    budget = _RING_PATH_BUDGET
    for limit in range(1, max_edges + 1):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            budget -= 1
            if budget < 0:
                return
            node, path = stack.pop()
            if len(path) - 1 == limit:
                continue
            for nxt in sorted(heavy.get(node, ()), reverse=True):
                if nxt == goal and len(path) == limit:
                    yield path + [goal]
                elif nxt != goal and nxt not in path:
                    stack.append((nxt, path + [nxt]))


def _concentrated(st: LedgerState, rules: RuleTable, members: set[str]) -> bool:
    """Every member rewards ring members at >= rate_ratio x their per-user rate with others."""
    for m in members:
        given = st.pair_counts.get(m, {})
        inside = [given[x] for x in members if x != m and given.get(x, 0) > 0]
        in_ring = sum(inside)
        out = sum(given.values()) - in_ring
        n_out = len(given) - len(inside)
        if out > 0 and in_ring * n_out < rules.ring_rate_ratio * len(inside) * out:
            return False
    return True


def _detect_ring(st: LedgerState, rules: RuleTable, giver: str, receiver: str, source: str,
                 created: str) -> None:
    heavy = st._heavy_index(rules.ring_min_pair_count)
    for path in _ring_paths(heavy, receiver, giver, rules.ring_max_size - 1):
        members = set(path)
        if not _concentrated(st, rules, members):
            continue
        ordered = sorted(members)
        cycle = [giver] + path  # giver -> receiver -> ... -> giver
        counts = [[a, b, st.pair_counts[a][b]] for a, b in zip(cycle, cycle[1:])]
        ring = {"members": ordered, "flagged_at": created, "source_event_id": source,
                "counts": counts}
        if not any(r["members"] == ordered for r in st.flagged_rings):
            st.flagged_rings.append(ring)
            st.last_flagged.append(ring)
            st._count("ring_flagged")
        for a in ordered:
            st.damped.setdefault(a, set()).update(b for b in ordered if b != a)
        return


def _is_damped(st: LedgerState, giver: str, receiver: str) -> bool:
    return receiver in st.damped.get(giver, ())


# -- routing -------------------------------------------------------------------------------------


def _was_routed(st: LedgerState, rules: RuleTable, root_id: str, helper: str, reply_id: str) -> bool:
    routed = st.routed.get(root_id, {})
    if helper not in routed:
        return False
    if not rules.require_match_before_reply:
        return True
    matched_at = routed[helper]
    if not matched_at:
        return True
    reply_created = st.posts[reply_id][2]
    return _parse_time(matched_at, "matched_at") <= _parse_time(reply_created, "created_at")


# -- posts & matches -------------------------------------------------------------------------


def _root_of(st: LedgerState, post_id: str) -> tuple[str, bool]:
    """Follow reply_to to the thread's root. Returns (id, known); known is False when the chain
    reaches a post not seen yet (the id returned is that missing post)."""
    cur, visited = post_id, {post_id}
    while True:
        parent = st.posts[cur][1]
        if parent is None:
            return cur, True
        if parent not in st.posts:
            return parent, False
        if parent in visited:  # a cycle in bad data: treat the current post as the root
            return cur, True
        visited.add(parent)
        cur = parent


def _apply_post(st: LedgerState, ev: Mapping[str, Any], rules: RuleTable, out: _Out) -> str:
    # interned: a user's id is then one string however many posts and votes refer to it
    post_id, author = ev["post_id"], sys.intern(ev["author_id"])
    if post_id in st.posts:
        return "noop:duplicate"
    reply_to = ev.get("reply_to") or None
    created = ev["created_at"]
    st.posts[post_id] = (author, reply_to, created)  # a tuple: one per post ever seen
    points, base = (rules.post_root, "post") if reply_to is None else (rules.post_reply, "reply")
    out.grant(author, points, base, post_id, created)
    waiting_list = st.pending.pop(post_id, [])
    st._pending_n -= len(waiting_list)
    for waiting in waiting_list:
        outcome = _apply_reaction(st, waiting, rules, out, reparked=True)
        st._count("unparked:" + outcome)
    return "recorded"


def _apply_match(st: LedgerState, ev: Mapping[str, Any], rules: RuleTable, out: _Out) -> str:
    root_id = ev["post_id"]
    matched_at = ev.get("matched_at") or ""
    routed = st.routed.setdefault(root_id, {})
    asked = ev.get("asked")  # a wave of asks names whom it asked; a Match without waves, every candidate
    for hid in asked if asked is not None else [c["helper_id"] for c in ev["candidates"]]:
        prev = routed.get(hid)
        if prev is None or (matched_at and prev and
                            _parse_time(matched_at, "matched_at") < _parse_time(prev, "matched_at")):
            routed[hid] = matched_at
        elif prev and not matched_at:
            routed[hid] = ""
    if not routed:
        del st.routed[root_id]
    # A match that arrives after the accept still earns the bonus, with the same id and
    # created_at as if it had come first.
    acc = st.accepted.get(root_id)
    if (acc and not acc["bonus"] and acc["author"] != acc["accepter"]
            and _was_routed(st, rules, root_id, acc["author"], acc["reply"])):
        g = out.grant(acc["author"], rules.routed_helper_bonus, "accept:routed_bonus",
                      acc["reaction_id"], acc["created_at"],
                      damped=_is_damped(st, acc["accepter"], acc["author"]))
        acc["bonus"] = True
        if g:
            acc["grants"].append(g)
        _sync_root_upvote_bonuses(st, rules, root_id, matched_at, out)
        return "recorded:late_bonus"
    _sync_root_upvote_bonuses(st, rules, root_id, matched_at, out)
    return "recorded"


# -- reactions -----------------------------------------------------------------------------------


def _park(st: LedgerState, rules: RuleTable, missing: str, ev: Mapping[str, Any], reparked: bool) -> str:
    if not reparked and st.pending_count >= rules.max_pending:
        raise UnknownPost(missing, ev)
    st.pending.setdefault(missing, []).append(dict(ev))
    st._pending_n += 1
    return "parked"


def _apply_reaction(st: LedgerState, ev: Mapping[str, Any], rules: RuleTable, out: _Out,
                    reparked: bool = False) -> str:
    rid, actor, post_id, kind = ev["reaction_id"], sys.intern(ev["actor_id"]), ev["post_id"], ev["kind"]
    created = ev["created_at"]
    post = st.posts.get(post_id)
    if post is None:
        return _park(st, rules, post_id, ev, reparked)
    author, reply_to = post[0], post[1]
    if kind == "flag":  # moderation (match withdraws flagged posts): earns and costs nothing
        return "noop:flag"

    # ---- accept / unaccept
    if kind in ("accept", "unaccept"):
        if reply_to is None:
            return "noop:not_a_reply"
        root_id, known = _root_of(st, post_id)
        if not known:
            return _park(st, rules, root_id, ev, reparked)
        if actor != st.posts[root_id][0]:
            return "noop:not_root_author"
        cur = st.accepted.get(root_id)
        if kind == "unaccept":
            if not cur or cur["reply"] != post_id:
                return "noop:repeat"
            _undo_accept(st, rules, cur, out, rid, created)
            del st.accepted[root_id]
            _sync_upvote_bonus(st, rules, post_id, rid, created, out)
            return "applied"
        if cur and cur["reply"] == post_id:
            return "noop:repeat"
        if cur:
            _undo_accept(st, rules, cur, out, rid, created)
        acc = {"reply": post_id, "author": author, "accepter": actor, "reaction_id": rid,
               "created_at": created, "bonus": False, "grants": []}
        st.accepted[root_id] = acc
        if author == actor:
            return "applied:self_accept"  # moves the accept, earns nothing
        _pair_add(st, rules, "accept", actor, author, +1, rid, created)
        damped = _is_damped(st, actor, author)
        grants = [
            out.grant(author, rules.accept_author, "accept", rid, created, damped=damped),
            out.grant(actor, rules.accept_accepter, "accept:accepter", rid, created, damped=damped),
        ]
        if _was_routed(st, rules, root_id, author, post_id):
            acc["bonus"] = True
            grants.append(out.grant(author, rules.routed_helper_bonus, "accept:routed_bonus", rid,
                                    created, damped=damped))
        acc["grants"] = [g for g in grants if g]
        _sync_upvote_bonus(st, rules, post_id, rid, created, out)
        if cur:
            _sync_upvote_bonus(st, rules, cur["reply"], rid, created, out)
        return "applied"

    # ---- votes and thanks: never on one's own post
    if actor == author:
        return "noop:self"
    day = _utc_day(created)

    if kind == "thanks":
        key = vote_key(post_id, actor)
        if key in st.thanked:
            return "noop:repeat"
        st.thanked.add(key)
        _pair_add(st, rules, "thanks", actor, author, +1, rid, created)
        out.grant(author, rules.thanks, "thanks", rid, created,
                  damped=_is_damped(st, actor, author), cap_day=day)
        return "applied"

    if reply_to is not None and kind in ("upvote", "downvote", "unvote"):
        root_id, known = _root_of(st, post_id)
        if not known:  # a vote on a reply waits for its thread's root, as an accept does: the
            return _park(st, rules, root_id, ev, reparked)  # routed bonus it may pay depends on it
    want = {"upvote": "up", "downvote": "down", "unvote": None}[kind]
    key = vote_key(post_id, actor)
    cur = st.votes.get(key)
    if (cur[VOTE_KIND] if cur else None) == want:
        return "noop:repeat"
    if reply_to is not None:  # the standing upvotes of a reply decide its upvote-paid routed bonus
        change = (want == "up") - bool(cur and cur[VOTE_KIND] == "up")
        if change:
            _count_upvote(st, post_id, change)
            _sync_upvote_bonus(st, rules, post_id, rid, created, out)
    if cur:
        out.reverse(cur[VOTE_GRANTS], rid, created)
        if cur[VOTE_KIND] == "up":
            _cap_give_back(st, author, cur[VOTE_DAY], cur[VOTE_CAP_COUNTED])
            _pair_add(st, rules, "upvote", actor, author, -1, rid, created)
        del st.votes[key]
    if want is None:
        return "applied"
    rec: list[Any] = [want, day, 0, []]  # VOTE_KIND, VOTE_DAY, VOTE_CAP_COUNTED, VOTE_GRANTS
    if want == "up":
        _pair_add(st, rules, "upvote", actor, author, +1, rid, created)
        points = rules.upvote_root if reply_to is None else rules.upvote_reply
        g = out.grant(author, points, "upvote", rid, created,
                      damped=_is_damped(st, actor, author), cap_day=day)
        if g:
            rec[VOTE_GRANTS].append(g)
            rec[VOTE_CAP_COUNTED] = g[1]
        if _serial_vote(st, rules, actor, author, created):  # reversed at once: an unvote then undoes nothing
            out.reverse_as(rec[VOTE_GRANTS], SERIAL_REVERSAL, rid, created)
            _cap_give_back(st, author, day, rec[VOTE_CAP_COUNTED])
            rec[VOTE_CAP_COUNTED], rec[VOTE_GRANTS] = 0, []
            st.votes[key] = rec
            return "applied:serial_vote_reversed"
    else:
        for g in (out.grant(author, rules.downvote_author, "downvote", rid, created),
                  out.grant(actor, rules.downvote_voter, "downvote:voter", rid, created)):
            if g:
                rec[VOTE_GRANTS].append(g)
    st.votes[key] = rec  # not changed in place after this (the store relies on it)
    return "applied"


def _serial_vote(st: LedgerState, rules: RuleTable, actor: str, recipient: str, created: str) -> bool:
    """Counts this upvote by actor on recipient's posts; True when it is past rules.serial_votes
    within the window (by the votes' created_at, so a replay decides the same)."""
    key = f"{actor}\x1f{recipient}"
    t = _parse_time(created, "created_at").timestamp()
    times = [x for x in st.serial.get(key, ()) if x > t - rules.serial_window_s]
    bisect.insort(times, t)
    st.serial[key] = times
    return len([x for x in times if x <= t]) > rules.serial_votes


def _apply_adjustment(st: LedgerState, ev: Mapping[str, Any], out: _Out) -> str:
    """An operator's correction: one entry, reason `adjustment`, once per adjustment_id."""
    seen_as = ADJUSTMENT_SEEN + ev["adjustment_id"]  # the reactions' seen set, in a namespace of its own
    if seen_as in st.seen:
        return "noop:duplicate"
    st.seen.add(seen_as)
    out.grant(sys.intern(ev["user_id"]), ev["delta"], "adjustment", ev["adjustment_id"], ev["created_at"])
    return "applied:adjustment"


def _count_in(table: dict[str, dict[str, int]], outer: str, inner: str, delta: int) -> int:
    """table[outer][inner] += delta, keeping positive counts and non-empty inner maps only;
    returns the new count. (A store map hands out its values for change in place.)"""
    counts = table.setdefault(outer, {})
    n = counts.get(inner, 0) + delta
    if n > 0:
        counts[inner] = n
    else:
        counts.pop(inner, None)
        if not counts:
            del table[outer]
    return n


def _count_upvote(st: LedgerState, reply_id: str, change: int) -> None:
    root_id, known = _root_of(st, reply_id)
    if known:
        _count_in(st.upvoted, root_id, reply_id, change)


def _sync_upvote_bonus(st: LedgerState, rules: RuleTable, reply_id: str, source: str, created: str,
                       out: _Out) -> None:
    """The routed bonus an upvote pays stands exactly while the reply's author was asked on its
    root, the reply has a standing upvote, and no accept paid the bonus for it; it is granted or
    reversed when that changes. A state, not a history: whichever of the match, the votes and
    the accept arrives first, the user ends with the same points."""
    post = st.posts.get(reply_id)
    if post is None or post[1] is None:
        return
    root_id, known = _root_of(st, reply_id)
    if not known:
        return
    author = post[0]
    acc = st.accepted.get(root_id)
    paid_by_accept = bool(acc and acc["reply"] == reply_id and acc["bonus"])
    should = (st.upvoted.get(root_id, {}).get(reply_id, 0) > 0 and not paid_by_accept
              and _was_routed(st, rules, root_id, author, reply_id))
    standing = st.upvote_bonus.get(reply_id)
    if should and standing is None:
        g = out.grant(author, rules.routed_helper_bonus, ROUTED_UPVOTE, source, created)
        st.upvote_bonus[reply_id] = list(g) if g else []
    elif standing is not None and not should:
        if standing:
            out.reverse([tuple(standing)], source, created)
        del st.upvote_bonus[reply_id]


def _sync_root_upvote_bonuses(st: LedgerState, rules: RuleTable, root_id: str, matched_at: str, out: _Out) -> None:
    for reply_id in list(st.upvoted.get(root_id, {})):
        _sync_upvote_bonus(st, rules, reply_id, f"match:{root_id}:{reply_id}",
                           matched_at or st.posts[reply_id][2], out)


def _undo_accept(st: LedgerState, rules: RuleTable, acc: Mapping[str, Any], out: _Out, rid: str,
                 created: str) -> None:
    out.reverse(acc["grants"], rid, created)
    if acc["author"] != acc["accepter"]:
        _pair_add(st, rules, "accept", acc["accepter"], acc["author"], -1, rid, created)


# ---------------------------------------------------------------------------------- entry points


def apply_event(state: LedgerState, event: Mapping[str, Any], rules: RuleTable) -> list[Entry]:
    """Apply one post / reaction / match event; return the entries to write (maybe none).

    Mutates `state` (balances included). Raises InvalidEvent (malformed, state untouched) or
    UnknownPost (post not seen and the parking space full, state untouched). After the call,
    ``state.last_outcome`` says what happened and ``state.last_flagged`` lists rings flagged by it.
    """
    etype = _validate(event)
    state.last_flagged = []
    out = _Out(state, rules)
    if etype == "post":
        outcome = _apply_post(state, event, rules, out)
    elif etype == "adjustment":
        outcome = _apply_adjustment(state, event, out)
    elif etype == "erasure":
        state.erased.add(event["user_id"])
        if state.balances is not None:
            state.balances.pop(event["user_id"], None)
        outcome = "applied:erasure"
    elif etype == "match":
        outcome = _apply_match(state, event, rules, out)
    else:
        rid = event["reaction_id"]
        if rid in state.seen:
            outcome = "noop:duplicate"
        else:
            outcome = _apply_reaction(state, event, rules, out)
            state.seen.add(rid)
    state.last_outcome = outcome
    state._count(outcome)
    return out.entries


def expire_pending(state: LedgerState, older_than: str) -> list[dict[str, Any]]:
    """Remove and return parked reactions created before `older_than` (RFC 3339), oldest first,
    for the service to send to dlq.v1 (their post never arrived). They are forgotten as seen, so
    a re-drive from the DLQ is processed normally."""
    cutoff = _parse_time(older_than, "older_than")
    expired: list[dict[str, Any]] = []
    for post_id in list(state.pending):
        keep = []
        for ev in state.pending[post_id]:
            (expired if _parse_time(ev["created_at"], "created_at") < cutoff else keep).append(ev)
        if keep:
            state.pending[post_id] = keep
        else:
            del state.pending[post_id]
    for ev in expired:
        state.seen.discard(ev["reaction_id"])
    state._pending_n -= len(expired)
    if expired:
        state.counters["expired"] = state.counters.get("expired", 0) + len(expired)
    expired.sort(key=lambda ev: (_parse_time(ev["created_at"], "created_at"), ev["reaction_id"]))
    return expired


def replay(events: Iterable[Mapping[str, Any]], rules: RuleTable,
           state: LedgerState | None = None) -> tuple[LedgerState, list[Entry]]:
    """Rebuild: apply events in order from `state` (default: empty). Returns (state, entries)."""
    st = state if state is not None else LedgerState()
    entries: list[Entry] = []
    for ev in events:
        entries.extend(apply_event(st, ev, rules))
    return st, entries


__all__ = [
    "Entry", "RuleTable", "LedgerState", "LedgerError", "InvalidEvent", "UnknownPost",
    "apply_event", "balances_from_entries", "entry_id_for", "expire_pending", "load_rules", "replay",
    "REACTION_KINDS", "RULES_PATH",
]
