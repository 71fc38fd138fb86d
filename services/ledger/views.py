"""The ledger's read views: balances and windowed leaderboard totals as pure functions of the
journal (ledger.entries.v1), and their one way into Redis (RedisViews). Used live, in recovery,
by `goalpost ledger rebuild` and by `verify`."""
from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping

from services.core.contracts import dumps, epoch_seconds, utc_day

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


TAG = "{ledger}"  # the hash tag of every ledger view: one script call writes many of them


def view_key(name: str, *parts: str) -> str:
    """The Redis key of a ledger view: {ledger}:balance, {ledger}:lb:all, {ledger}:lb:day:<day>,
    {ledger}:entries:<user> (docs/redis.md)."""
    return ":".join((TAG, name) + parts)


KEEP_WINDOWS = 3  # days and weeks the live ledger keeps totals of: the current ones, and two for late entries
WINDOW_SLOT = {"day": 1, "week": 2}  # where a LiveViews value holds each window's totals


@dataclass
class Views:
    """Balances and leaderboard windows of a whole journal, in memory: `ledger verify` and
    `rebuild`. Entries are counted once by entry_id (a journal may hold repeats)."""
    balances: dict[str, int] = field(default_factory=dict)
    # window name ("day"/"week") -> window key -> user -> points
    windows: dict[str, dict[str, dict[str, int]]] = field(default_factory=lambda: {"day": {}, "week": {}})
    seen: set[str] = field(default_factory=set)

    def add(self, entry: Any) -> bool:
        """Counts one journal entry (a dict or a LedgerEntry) once, by entry_id; True if new."""
        if isinstance(entry, Mapping):
            entry_id, user, delta, created = (entry["entry_id"], entry["user_id"], int(entry["delta"]),
                                              entry["created_at"])
        else:
            entry_id, user, delta, created = entry.entry_id, entry.user_id, entry.delta, entry.created_at
        if entry_id in self.seen:
            return False
        self.seen.add(entry_id)
        self.balances[user] = self.balances.get(user, 0) + delta
        for name, key in window_keys(created).items():
            bucket = self.windows[name].setdefault(key, {})
            bucket[user] = bucket.get(user, 0) + delta
        return True


class LiveViews:
    """The live ledger's views: each user's balance and totals in the newest KEEP_WINDOWS days
    and weeks, one value per user. Given the stage's store they are a map in it, checkpointed
    with the rules' memory at the same input offsets, so a worker's memory does not grow with
    its users; without one (offline, tests), a plain dict. An entry for a window older than all
    those kept (a reaction created weeks ago) leaves that closed leaderboard as it was written."""

    def __init__(self, store: Any = None, keep_windows: int = KEEP_WINDOWS) -> None:
        # user -> [balance, {day: points}, {ISO week: points}] (the windows kept, or older ones
        # not yet pruned: a value sheds them when it is next counted)
        self.users: dict[str, list[Any]] = store.map("views") if store else {}
        self.keep_windows = keep_windows
        self.kept: dict[str, list[str]] = {"day": [], "week": []}  # window keys kept, oldest first

    def small_parts(self) -> bytes:
        """What a checkpoint holds besides the map: the windows kept."""
        return marshal.dumps(self.kept)

    def restore(self, raw: bytes) -> "LiveViews":
        self.kept = marshal.loads(raw)
        return self

    def _open(self, name: str, key: str) -> bool:
        """Whether `key` is a window kept, opening it (and dropping the oldest) if it is new."""
        kept = self.kept[name]
        if key in kept:
            return True
        if len(kept) >= self.keep_windows and key < kept[0]:
            return False
        kept.append(key)
        kept.sort()  # keys sort by time: 2026-11-26, 2026-W48
        if len(kept) > self.keep_windows:
            del kept[0]
        return True

    def count(self, user: str, delta: int, day: str) -> None:
        """Counts `delta` points for `user` on a UTC day (the live ledger's entries are unique by
        construction: no entry id check)."""
        value = self.users.get(user)
        if value is None:
            value = self.users[user] = [0, {}, {}]
        value[0] += delta
        for name, key in day_windows(day).items():
            if self._open(name, key):
                slot = WINDOW_SLOT[name]
                totals = value[slot]
                totals[key] = totals.get(key, 0) + delta
                if len(totals) > self.keep_windows:
                    kept = self.kept[name]
                    value[slot] = {k: v for k, v in totals.items() if k in kept}

    def balance(self, user: str) -> int:
        value = self.users.get(user)
        return 0 if value is None else value[0]

    def balances(self) -> dict[str, int]:
        """Every balance (a full scan of the store: tests and tools, not the hot path)."""
        return {user: value[0] for user, value in self.users.items()}

    def forget(self, user: str) -> None:
        """An erased user leaves the balances and every leaderboard window."""
        self.users.pop(user, None)

    def prefetch(self, users: Iterable[str]) -> None:
        """Loads the values of a batch's users with a few queries (a store's map only)."""
        if hasattr(self.users, "prefetch"):
            self.users.prefetch(users)

    def update(self, by_day: Mapping[str, set[str]], recent: Mapping[str, list], trim: Iterable[str]) -> dict:
        """The Redis views' values for the users of `by_day` (UTC day -> users with entries that
        day) as they stand now, as one view_update: absolute values and idempotent members, safe
        to write again after a crash. `recent`: each user's new entries as (score, JSON) pairs;
        `trim`: recent-entry keys to cut to RECENT_ENTRIES."""
        windows: dict[tuple[str, str], set[str]] = {}
        for day, users_of_day in by_day.items():
            for name, key in day_windows(day).items():
                if key in self.kept[name]:  # not the windows closed and dropped: they stay as written
                    windows.setdefault((name, key), set()).update(users_of_day)
        values: dict[str, list[Any]] = {}
        for users_of_day in by_day.values():
            for u in users_of_day:
                if (value := self.users.get(u)) is not None:
                    values[u] = value
        return view_update(
            balances={u: v[0] for u, v in values.items()},
            leaderboards=[[view_key("lb", name, key), {u: values[u][WINDOW_SLOT[name]].get(key, 0) for u in members if u in values}]
                          for (name, key), members in windows.items()],
            recent=[[view_key("entries", user), members] for user, members in recent.items()],
            trim=list(trim))


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


# ---------------------------------------------------------------- Redis

# One round trip and one argument per batch: the client-side cost of a pipeline of thousands of
# small commands (packing each argument, parsing each reply) is a fifth of the ledger's time.
# KEYS (script_keys): the balances, the all-time board, then one key per leaderboard, per
# recent-entry set and per trimmed set, in the update's order; every one carries TAG, so a
# Redis Cluster runs the call on one node.
WRITE_VIEWS_LUA = """
local update = cjson.decode(ARGV[1])
local keep = tonumber(ARGV[2])
local k = 3
for user, points in pairs(update.balances) do
  redis.call('HSET', KEYS[1], user, points)
  redis.call('ZADD', KEYS[2], points, user)
end
for _, board in ipairs(update.leaderboards) do
  for user, points in pairs(board[2]) do
    redis.call('ZADD', KEYS[k], points, user)
  end
  k = k + 1
end
for _, recent in ipairs(update.recent) do
  local members = recent[2]
  for i = 1, #members, 2 do
    redis.call('ZADD', KEYS[k], members[i], members[i + 1])
  end
  k = k + 1
end
for _ in ipairs(update.trim) do
  redis.call('ZREMRANGEBYRANK', KEYS[k], 0, -keep - 1)
  k = k + 1
end
return 1
"""


def script_keys(update: dict) -> list[str]:
    """The KEYS of WRITE_VIEWS_LUA for one view_update, in the order the script reads them."""
    return [view_key("balance"), view_key("lb", "all"), *[board[0] for board in update["leaderboards"]],
            *[recent[0] for recent in update["recent"]], *update["trim"]]
VIEW_CHUNK = 20_000  # members per script call, so one call never blocks Redis for long (recovery)


def view_update(balances: dict | None = None, leaderboards: list | None = None, recent: list | None = None,
                trim: list | None = None) -> dict:
    """One call of WRITE_VIEWS_LUA: balances {user: points}, leaderboards [[key, {user: points}]],
    recent [[key, [score, entry JSON, ...]]], trim [key] (recent-entry sets cut to RECENT_ENTRIES).
    Absolute values and idempotent members: writing a call again is a no-op."""
    return {"balances": balances or {}, "leaderboards": leaderboards or [], "recent": recent or [],
            "trim": trim or []}


def recent_member(created_at: str, entry_json: bytes) -> tuple[float, str]:
    """An entry in its user's recent-entry set: (score, member), the same live, in recovery and
    in a rebuild, so that writing it again is a no-op."""
    return epoch_seconds(created_at), entry_json.decode()


def view_calls(views: Views) -> Iterator[dict]:
    """Every balance and leaderboard window of `views` as it stands, as calls of at most
    VIEW_CHUNK members each, made one at a time: a whole update built at once held a second
    copy of every view, the ledger's peak memory at a restart."""
    balances = views.balances
    users = list(balances)
    for i in range(0, len(users), VIEW_CHUNK):
        yield view_update(balances={u: balances[u] for u in users[i:i + VIEW_CHUNK]})
    for name in ("day", "week"):
        for key, bucket in views.windows[name].items():
            members = list(bucket)
            for i in range(0, len(members), VIEW_CHUNK):
                yield view_update(leaderboards=[[view_key("lb", name, key),
                                                 {u: bucket[u] for u in members[i:i + VIEW_CHUNK]}]])


def recent_calls(recent: Mapping[str, list], trim: bool = False) -> Iterator[dict]:
    """Calls adding each user's recent-entry members ({user: [score, entry JSON, ...]}), about
    VIEW_CHUNK members each; with `trim`, each call also cuts its users' sets to RECENT_ENTRIES."""
    calls: list = []
    size = 0
    for user, members in recent.items():
        calls.append([view_key("entries", user), members])
        size += len(members) // 2
        if size >= VIEW_CHUNK:
            yield view_update(recent=calls, trim=[key for key, _ in calls] if trim else None)
            calls, size = [], 0
    if calls:
        yield view_update(recent=calls, trim=[key for key, _ in calls] if trim else None)


def _chunks(update: dict) -> list[dict]:
    """Splits an update into calls of about VIEW_CHUNK members (only a batch of more than a few
    thousand entries needs it; whole views are split by view_calls)."""
    size = len(update["balances"]) + sum(len(b[1]) for b in update["leaderboards"]) \
        + sum(len(r[1]) // 2 for r in update["recent"])
    if size <= VIEW_CHUNK:
        return [update]
    out: list[dict] = []
    balances = list(update["balances"].items())
    for i in range(0, len(balances), VIEW_CHUNK):
        out.append(view_update(balances=dict(balances[i:i + VIEW_CHUNK])))
    for key, board in update["leaderboards"]:
        items = list(board.items())
        for i in range(0, len(items), VIEW_CHUNK):
            out.append(view_update(leaderboards=[[key, dict(items[i:i + VIEW_CHUNK])]]))
    out.append(view_update(recent=update["recent"], trim=update["trim"]))
    return out


STAGING = f"{TAG}:staging:"  # where a rebuild writes the views before they replace the live ones
# Swaps a rebuild's views in, atomically. KEYS: the stale live keys, the staged keys, then their
# live names; ARGV: how many stale, how many staged.
PUBLISH_LUA = """
local stale, n = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, stale do redis.call('DEL', KEYS[i]) end
for i = 1, n do redis.call('RENAME', KEYS[stale + i], KEYS[stale + n + i]) end
return n
"""


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else key


def staged(key: str) -> str:
    return STAGING + key[len(TAG) + 1:]


def unstaged(key: str) -> str:
    return f"{TAG}:" + key[len(STAGING):]


class RedisViews:
    """Writes the views to Redis (a redis.asyncio client): the live worker, its recovery and
    `goalpost ledger rebuild` all write through here. With `staging`, the same writes go to
    the staging copy of each key (`publish_staged` then swaps them in)."""

    def __init__(self, redis: Any, staging: bool = False) -> None:
        self.redis = redis
        self.staging = staging
        self._write = redis.register_script(WRITE_VIEWS_LUA)  # redis-py reloads it after a Redis restart

    async def write(self, update: dict) -> None:
        """Writes a view_update, in calls of about VIEW_CHUNK members."""
        for chunk in _chunks(update):
            keys = script_keys(chunk)  # the script writes its KEYS, whatever the JSON names
            await self._write(keys=[staged(k) for k in keys] if self.staging else keys,
                              args=[dumps(chunk), RECENT_ENTRIES])

    async def publish_staged(self) -> int:
        """Replaces every live view by its staged copy in one script call (all keys share TAG's
        slot): readers see the old views, then the new, never a view half written. Returns the
        keys published."""
        staged_keys = [_text(k) async for k in self.redis.scan_iter(match=STAGING + "*", count=1000)]
        targets = {unstaged(k) for k in staged_keys}
        stale = [k for k in [_text(k) async for k in self.redis.scan_iter(match=view_key("*"), count=1000)]
                 if not k.startswith(STAGING) and k not in targets]
        if stale or staged_keys:
            await self.redis.register_script(PUBLISH_LUA)(
                keys=[*stale, *staged_keys, *[unstaged(k) for k in staged_keys]], args=[len(stale), len(staged_keys)])
        return len(staged_keys)

    async def erase(self, users: list[str]) -> None:
        """Erased users leave every ledger view: balance, leaderboards (all windows), recent entries."""
        if not users:
            return
        windows = [k async for k in self.redis.scan_iter(match=view_key("lb", "*"), count=1000)]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hdel(view_key("balance"), *users)
            for key in windows:
                pipe.zrem(key, *users)
            pipe.delete(*[view_key("entries", u) for u in users])
            await pipe.execute()

    async def delete_staged(self) -> None:
        """Removes what an unfinished rebuild left in the staging copy."""
        old = [k async for k in self.redis.scan_iter(match=STAGING + "*", count=1000)]
        for i in range(0, len(old), 1000):
            await self.redis.delete(*old[i:i + 1000])
