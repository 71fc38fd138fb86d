"""The ledger's read views as pure functions of the journal (ledger.entries.v1): balances and
windowed totals for the leaderboards. Used live, by `goalpost ledger rebuild` and by `verify`."""
from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any, Iterable, Mapping

from services.core.contracts import epoch_seconds as epoch  # noqa: F401  (the score of recent entries)
from services.core.contracts import utc_day

WINDOWS = ("all", "day", "week")


def window_keys(created_at: str) -> dict[str, str]:
    """The leaderboard windows an entry counts in: its UTC day and ISO week."""
    return day_windows(utc_day(created_at))


@lru_cache(maxsize=4096)
def day_windows(day: str) -> dict[str, str]:
    """The leaderboard windows of a UTC day (YYYY-MM-DD): the day and its ISO week."""
    year, week, _ = date.fromisoformat(day).isocalendar()
    return {"day": day, "week": f"{year}-W{week:02d}"}


def current_window(window: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return window_keys(now.strftime("%Y-%m-%dT%H:%M:%SZ"))[window]



RECENT_ENTRIES = 100  # entries each user's recent-entry view keeps


def view_key(name: str, *parts: str) -> str:
    """The Redis key of a ledger view: ledger:balance, ledger:lb:all, ledger:lb:day:<day>,
    ledger:entries:<user> (docs/redis.md)."""
    return ":".join(("ledger", name) + parts)


@dataclass
class Views:
    balances: dict[str, int] = field(default_factory=dict)
    # window name ("day"/"week") -> window key -> user -> points
    windows: dict[str, dict[str, dict[str, int]]] = field(default_factory=lambda: {"day": {}, "week": {}})
    seen: set[str] = field(default_factory=set)
    # Reading a journal, entries are counted once by entry_id. The live ledger turns this off:
    # its entries are unique by construction (and read_committed hides aborted transactions),
    # and remembering every id ever written cost ~120 bytes per entry of resident memory.
    dedupe: bool = True
    # The live ledger keeps only the newest `keep_windows` days and weeks (None: all), so its
    # memory does not grow with the calendar. An entry for a window older than all of them (a
    # reaction created weeks ago) leaves that closed leaderboard as it was written.
    keep_windows: int | None = None

    def add(self, entry: Any) -> bool:
        """Counts one journal entry (a dict or a LedgerEntry) once, by entry_id; True if new."""
        if isinstance(entry, Mapping):
            entry_id, user, delta, created = (entry["entry_id"], entry["user_id"], int(entry["delta"]),
                                              entry["created_at"])
        else:
            entry_id, user, delta, created = entry.entry_id, entry.user_id, entry.delta, entry.created_at
        if self.dedupe:
            if entry_id in self.seen:
                return False
            self.seen.add(entry_id)
        self.count(user, delta, utc_day(created))
        return True

    def forget(self, user: str) -> None:
        """An erased user leaves the balances and every leaderboard window."""
        self.balances.pop(user, None)
        for buckets in self.windows.values():
            for totals in buckets.values():
                totals.pop(user, None)

    def count(self, user: str, delta: int, day: str) -> None:
        """Counts `delta` points for `user` on a UTC day, without the entry id check: the live
        ledger's path (its entries are unique by construction), which also has the day already."""
        self.balances[user] = self.balances.get(user, 0) + delta
        for name, key in day_windows(day).items():
            buckets = self.windows[name]
            bucket = buckets.get(key)
            if bucket is None:
                if self.keep_windows is not None and len(buckets) >= self.keep_windows:
                    oldest = min(buckets)  # keys sort by time: 2026-11-26, 2026-W48
                    if key < oldest:
                        continue
                    del buckets[oldest]
                bucket = buckets[key] = {}
            bucket[user] = bucket.get(user, 0) + delta

    def to_bytes(self) -> bytes:
        """The live views for a checkpoint of the ledger (services/ledger/store.py)."""
        return marshal.dumps((self.balances, self.windows, self.keep_windows))

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Views":
        balances, windows, keep = marshal.loads(raw)
        return cls(balances=balances, windows=windows, dedupe=False, keep_windows=keep)


def views_from_entries(entries: Iterable[Mapping[str, Any]]) -> Views:
    views = Views()
    for e in entries:
        views.add(e)
    return views


def compare_balances(journal: Mapping[str, int], other: Mapping[str, int]) -> list[str]:
    """Human-readable differences between balances from the journal and another view."""
    problems = []
    for user in sorted(set(journal) | set(other)):
        if journal.get(user, 0) != other.get(user, 0):
            problems.append(f"{user}: journal {journal.get(user, 0)} != view {other.get(user, 0)}")
    return problems
