"""Journal entries and how the rules pay points: grants (after ring damping and the daily cap)
and their reversals.

``entry_id`` = first 32 hex digits of sha256(source_event_id, user_id, base reason). The base
reason (``upvote``, ``accept:accepter``, ``upvote:reversed`` ...) excludes the ``:capped`` /
``:dampened`` modifiers and the rules version, so redelivery or replay writes the same ids.
Reversals are new entries (reason ``<original reason>:reversed``), never deletions.
"""
from __future__ import annotations

import hashlib
import sys
from datetime import date, timedelta
from typing import Any, Iterable, Mapping, Protocol, Union

from services.core.contracts import Credit, LedgerEntry
from services.ledger.rule_table import RuleTable
from services.ledger.state import LedgerState, day_key, drop_below

# An entry is the contract's LedgerEntry record itself (one definition of the wire format).
Entry = LedgerEntry


class CapState(Protocol):
    """What the daily cap keeps: the rules' whole state (LedgerState) or a worker's per-user
    state (settle.UserState)."""
    cap_used: dict[str, int]  # day_key(day, user) -> points the cap let through that day
    cap_max_day: str


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


def unique_id(ids: set[str], source: str, user: str, base: str) -> str:
    """The entry id of (source, user, base), made unique among the `ids` of one event (which
    cannot collide with the rules as they are; kept deterministic anyway), and noted there."""
    eid = entry_id_for(source, user, base)
    n = 1
    while eid in ids:
        n += 1
        eid = entry_id_for(source, user, f"{base}#{n}")
    ids.add(eid)
    return eid


def damp(rules: RuleTable, amount: int, base: str, damped: bool) -> tuple[int, str]:
    """A reward between members of a flagged ring, scaled to damping_percent (rounded down)."""
    if damped and amount > 0:
        return amount * rules.ring_damping_percent // 100, base + ":dampened"
    return amount, base


class EventEntries:
    """Collects the entries of one apply_event call and keeps their ids unique."""

    def __init__(self, state: LedgerState, rules: RuleTable) -> None:
        self.state = state
        self.rules = rules
        self.entries: list[Entry] = []
        self._ids: set[str] = set()

    def emit(self, user: str, delta: int, base: str, reason: str, source: str, created: str) -> Entry:
        eid = unique_id(self._ids, source, user, base)
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
        amount, reason = damp(self.rules, amount, base, damped)
        if cap_day is not None and amount > 0:
            allowed = cap_take(self.state, self.rules, user, cap_day, amount)
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

    def give_back(self, user: str, day: str, amount: int) -> None:
        """A reversed vote's points count no more against its day's cap."""
        cap_give_back(self.state, user, day, amount)

    def erase(self, user: str, requested_at: str) -> None:
        """(The state keeps the erased set; emit() writes nothing more for them.)"""


class CreditsOut:
    """The payments of one event as credits keyed by the user paid (the resolver stage), with
    the same ids as EventEntries's entries. Ring damping is applied here (the pair counts are
    the resolver's); the daily cap, and so the amount a grant finally pays, is the worker's
    that owns the user (settle.py): a grant's record is therefore a handle, (user, amount
    before the cap, base, reason, credit id), and a reversal names the credit it reverses."""

    def __init__(self, state: LedgerState, rules: RuleTable) -> None:
        self.state = state
        self.rules = rules
        self.entries: list[Credit] = []
        self._ids: set[str] = set()

    def grant(self, user: str, amount: int, base: str, source: str, created: str, *,
              damped: bool = False, cap_day: str | None = None) -> tuple[Any, ...] | None:
        if amount == 0:
            return None
        amount, reason = damp(self.rules, amount, base, damped)
        credit_id = unique_id(self._ids, source, user, base)
        self.entries.append(Credit(credit_id=credit_id, user_id=user, op="grant", amount=amount, base=base,
                                   reason=reason, source_event_id=source, created_at=created,
                                   cap_day=cap_day if amount > 0 else None))
        if amount == 0:  # damped to nothing: a zero entry, as EventEntries writes, and no grant
            return None
        return (user, amount, base, sys.intern(reason), credit_id)

    def _reverse(self, grants: list[tuple[Any, ...]], base_of: Any, reason: str, source: str,
                 created: str) -> None:
        for g in grants:
            user, base, credit_id = g[0], g[2], g[4]
            self.entries.append(Credit(credit_id=unique_id(self._ids, source, user, base_of(base)), user_id=user,
                                       op="reverse", amount=0, base=base_of(base), reason=reason,
                                       source_event_id=source, created_at=created, reverses=credit_id))

    def reverse_as(self, grants: list[tuple[Any, ...]], reason: str, source: str, created: str) -> None:
        self._reverse(grants, lambda base: reason, reason, source, created)

    def reverse(self, grants: list[tuple[Any, ...]], source: str, created: str) -> None:
        self._reverse(grants, lambda base: f"{base}:reversed", "", source, created)

    def give_back(self, user: str, day: str, amount: int) -> None:
        """(The worker gives a reversed grant's cap back itself: it knows what the cap let through.)"""

    def erase(self, user: str, requested_at: str) -> None:
        self.entries.append(Credit(credit_id="", user_id=user, op="erase", amount=0, base="", reason="",
                                   source_event_id="", created_at=requested_at))


Payments = Union[EventEntries, CreditsOut]  # where the rules pay points: entries, or credits for the workers


def cap_take(st: CapState, rules: RuleTable, user: str, day: str, amount: int) -> int:
    """The part of `amount` the user's daily vote cap on `day` still allows, now counted."""
    if day > st.cap_max_day:
        st.cap_max_day = day
        horizon = (date.fromisoformat(day) - timedelta(days=rules.cap_days_kept)).isoformat()
        drop_below(st.cap_used, horizon)
    key = day_key(day, user)
    used = st.cap_used.get(key, 0)
    allowed = max(0, min(amount, rules.daily_vote_cap - used))
    if allowed:
        st.cap_used[key] = used + allowed
    return allowed


def cap_give_back(st: CapState, user: str, day: str, amount: int) -> None:
    """A compensation gives the headroom back to the day of the original grant."""
    key = day_key(day, user)
    used = st.cap_used.get(key)
    if not amount or used is None:
        return  # the day was pruned: nothing to give back
    if used > amount:
        st.cap_used[key] = used - amount
    else:
        del st.cap_used[key]
