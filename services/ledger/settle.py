"""The ledger's second stage, keyed by user: a worker owns a share of the users (partitions of
ledger.credits.v1) and turns their credits into journal entries. What is per user lives here:
the daily vote cap, what each grant finally paid (so that a reversal takes back exactly that and
gives its cap back), the erased users and, in the views, the balances. Pure: no Kafka, Redis or
store I/O (a store's maps are read through their caches)."""
from __future__ import annotations

import marshal
import sys
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from services.ledger.events import InvalidEvent
from services.ledger.grants import Entry, cap_give_back, cap_take
from services.ledger.rule_table import RuleTable
from services.ledger.state import checkpoint_parts

if TYPE_CHECKING:
    from services.ledger.store import StateStore

USER_STATE_SCHEMA = 2  # 2: cap use keyed by day_key, in the store
CREDIT_OPS = frozenset({"grant", "reverse", "erase"})
# Fields of a grant record in UserState.grants
GRANT_DELTA, GRANT_BASE, GRANT_REASON, GRANT_CAP_DAY = range(4)


class UserState:
    """A worker's state for the users it owns. With a store, the grants and the cap use are
    maps on disk with a bounded cache; the erased users stay in memory."""

    def __init__(self, store: StateStore | None = None) -> None:
        self.store = store
        # credit_id of a grant -> [delta paid, base, reason, cap day or None] (paid grants only)
        self.grants: dict[str, list[Any]] = store.map("grants", mutable=False) if store else {}  # type: ignore[assignment]
        # day_key(UTC day, user) -> vote-earned points granted that day
        self.cap_used: dict[str, int] = store.map("cap_used", mutable=False) if store else {}  # type: ignore[assignment]
        self.cap_max_day = ""
        self.erased: set[str] = set()
        self.counters: dict[str, int] = {}
        self.balances: dict[str, int] | None = {} if store is None else None  # offline only (see LedgerState)
        self.last_flagged: list[dict[str, Any]] = []  # (rings are the resolver's)

    pending_count = 0  # (parking is the resolver's)

    def small_parts(self) -> bytes:
        return marshal.dumps((USER_STATE_SCHEMA, self.cap_max_day, self.erased, self.counters))

    @classmethod
    def restore(cls, store: StateStore, small: bytes) -> "UserState":
        parts = checkpoint_parts(small, USER_STATE_SCHEMA, "ledger user state")
        s = cls(store)
        _, s.cap_max_day, s.erased, s.counters = parts
        return s

    def prefetch(self, events: Iterable[Mapping[str, Any]]) -> None:
        if self.store is not None:
            self.grants.prefetch(ev["reverses"] for ev in events if ev.get("op") == "reverse")  # type: ignore[attr-defined]

    def evict(self) -> None:
        if self.store is not None:
            self.store.evict()

    def count(self, outcome: str) -> None:
        self.counters[outcome] = self.counters.get(outcome, 0) + 1


def _validate(ev: Mapping[str, Any]) -> str:
    op = ev.get("op")
    if op not in CREDIT_OPS:
        raise InvalidEvent("op", f"must be one of {sorted(CREDIT_OPS)}")
    user = ev.get("user_id")
    if not isinstance(user, str) or not user:
        raise InvalidEvent("user_id", "required non-empty string")
    if op == "reverse" and not isinstance(ev.get("reverses"), str):
        raise InvalidEvent("reverses", "required string")
    amount = ev.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidEvent("amount", "must be a whole number")
    return op


def apply_credit(state: UserState, ev: Mapping[str, Any], rules: RuleTable) -> list[Entry]:
    """One credit (a Credit record as a dict) in, the journal entries it writes out (none, or
    one). A grant takes what its day's cap still allows (reason suffix ``:capped``; a zero entry
    when nothing, if the rules write them) and remembers what it paid; a reversal takes that
    back and gives it back to the day's cap; an erasure stops every entry of the user."""
    op = _validate(ev)
    user = sys.intern(ev["user_id"])
    if op == "erase":
        state.erased.add(user)
        if state.balances is not None:
            state.balances.pop(user, None)
        state.count("erase")
        return []
    if op == "grant":
        amount, reason, cap_day = ev["amount"], ev["reason"], ev.get("cap_day")
        if cap_day is not None and amount > 0:
            allowed = cap_take(state, rules, user, cap_day, amount)
            if allowed < amount:
                reason += ":capped"
            amount = allowed
        if amount == 0:
            state.count("grant:zero")
            return _entry(state, user, 0, reason, ev) if rules.zero_entries else []
        state.grants[ev["credit_id"]] = [amount, ev["base"], sys.intern(reason), cap_day]
        state.count("grant")
        return _entry(state, user, amount, reason, ev)
    granted = state.grants.pop(ev["reverses"], None)
    if granted is None:  # the cap let nothing of it through (or it was reversed already)
        state.count("reverse:nothing")
        return []
    delta, reason = granted[GRANT_DELTA], ev["reason"] or f"{granted[GRANT_REASON]}:reversed"
    if granted[GRANT_CAP_DAY] is not None:
        cap_give_back(state, user, granted[GRANT_CAP_DAY], delta)
    state.count("reverse")
    return _entry(state, user, -delta, reason, ev)


def _entry(state: UserState, user: str, delta: int, reason: str, ev: Mapping[str, Any]) -> list[Entry]:
    if user in state.erased:  # erased on request: nothing more is written for them
        return []
    if state.balances is not None:
        state.balances[user] = state.balances.get(user, 0) + delta
    return [Entry(entry_id=ev["credit_id"], user_id=user, delta=delta, reason=reason,
                  source_event_id=ev["source_event_id"], created_at=ev["created_at"])]
