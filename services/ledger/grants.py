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
from typing import Any, Iterable, Mapping

from services.core.contracts import LedgerEntry
from services.ledger.rule_table import RuleTable
from services.ledger.state import LedgerState

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


class EventEntries:
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


def cap_take(st: LedgerState, rules: RuleTable, user: str, day: str, amount: int) -> int:
    """The part of `amount` the user's daily vote cap on `day` still allows, now counted."""
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


def cap_give_back(st: LedgerState, user: str, day: str, amount: int) -> None:
    """A compensation gives the headroom back to the day of the original grant."""
    by_day = st.cap_used.get(day)
    if not amount or by_day is None or user not in by_day:
        return  # the day was pruned: nothing to give back
    left = by_day[user] - amount
    if left > 0:
        by_day[user] = left
    else:
        del by_day[user]
