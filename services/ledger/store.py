"""The ledger's rule memory on local disk, with a bounded cache in RAM (the Kafka Streams model:
a local store plus checkpoints, rebuilt from the topics when it is missing).

Why: the rules remember every post's author, every processed reaction id, every standing vote
and every giver->receiver pair. Kept in dicts, that memory grew without end (about 1 KiB per
reaction from a new voter) and a restart re-applied every input since the beginning.

How it stays exactly once: the SQLite file is written only at checkpoints, in one SQLite
transaction holding the dirty values and the input offsets they reflect, and only when every
batch applied so far is committed in Kafka. After a crash the store is at the last checkpoint
(never ahead of Kafka); the worker re-applies the inputs from the checkpoint's offsets up to the
offsets committed in Kafka, discarding the entries (they are in the journal already).

Values are plain Python data (str, int, tuple, list, dict, set, None) serialised with marshal:
the file is private to this process and version (the checkpoint names the Python version and
the state schema, and anything else is rebuilt from the topics).
"""
from __future__ import annotations

import marshal
import sqlite3
import sys
from pathlib import Path
from typing import Any, Iterator

_MISSING = object()
FORMAT = f"ledger-store-1 python-{sys.version_info[0]}.{sys.version_info[1]} marshal-{marshal.version}"


class SpillMap:
    """A dict-like map whose values live in a SQLite table, with at most about `capacity` of
    them cached in memory between checkpoints.

    Values handed out by get/[]/setdefault may be changed in place by the caller, so every key
    read or written since the last checkpoint is *dirty*: it stays in memory and is written at
    the next checkpoint. Only clean keys are evicted (oldest-touched first), so nothing is lost
    and nothing is read back stale. A key deleted since the checkpoint is dirty and absent from
    memory; it must not be read back from the table.
    """

    def __init__(self, db: sqlite3.Connection, table: str, capacity: int) -> None:
        self._db = db
        self._table = table
        self.capacity = capacity
        self._mem: dict[Any, Any] = {}
        self._dirty: set[Any] = set()
        db.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID')
        self._select = f'SELECT v FROM "{table}" WHERE k = ?'
        self._upsert = f'INSERT OR REPLACE INTO "{table}" (k, v) VALUES (?, ?)'
        self._delete = f'DELETE FROM "{table}" WHERE k = ?'
        self._scan = f'SELECT k, v FROM "{table}"'

    # -- reading ---------------------------------------------------------------------------
    def _load(self, key: Any) -> Any:
        if key in self._dirty:  # dirty and not in memory: deleted since the checkpoint
            return _MISSING
        row = self._db.execute(self._select, (key,)).fetchone()
        if row is None:
            return _MISSING
        value = self._mem[key] = marshal.loads(row[0])
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._mem.get(key, _MISSING)
        if value is _MISSING:
            value = self._load(key)
            if value is _MISSING:
                return default
        self._dirty.add(key)  # the caller may change it in place
        return value

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: Any) -> bool:
        return key in self._mem or self._load(key) is not _MISSING

    def items(self) -> Iterator[tuple[Any, Any]]:
        """Every item, the table's included (a full scan: for snapshots and tests, not the hot path)."""
        yield from list(self._mem.items())
        for key, raw in self._db.execute(self._scan).fetchall():
            if key not in self._mem and key not in self._dirty:
                yield key, marshal.loads(raw)

    def __iter__(self) -> Iterator[Any]:
        return (key for key, _ in self.items())

    # -- writing ---------------------------------------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        self._mem[key] = value
        self._dirty.add(key)

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        del self._mem[key]
        self._dirty.add(key)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        del self._mem[key]
        return value

    def setdefault(self, key: Any, default: Any) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            self[key] = value = default
        return value

    # -- memory and checkpoints ------------------------------------------------------------
    @property
    def cached(self) -> int:
        return len(self._mem)

    @property
    def dirty(self) -> int:
        return len(self._dirty)

    def evict(self) -> int:
        """Drops clean values, oldest-touched first, down to the capacity. Call it between
        events, never while a caller holds a value it is about to change."""
        excess = len(self._mem) - self.capacity
        if excess <= 0:
            return 0
        victims = []
        for key in self._mem:
            if key not in self._dirty:
                victims.append(key)
                if len(victims) == excess:
                    break
        for key in victims:
            del self._mem[key]
        return len(victims)

    def write_dirty(self) -> None:
        """Writes the dirty keys into the open SQLite transaction (see StateStore.checkpoint)."""
        mem = self._mem
        self._db.executemany(self._upsert, [(k, marshal.dumps(mem[k])) for k in self._dirty if k in mem])
        self._db.executemany(self._delete, [(k,) for k in self._dirty if k not in mem])

    def written(self) -> None:
        """After the checkpoint committed: the dirty keys are clean, and the most recently
        touched, so they move to the end of the eviction order."""
        mem = self._mem
        for key in self._dirty:
            if key in mem:
                mem[key] = mem.pop(key)
        self._dirty.clear()

    def forget(self) -> None:
        self._mem.clear()
        self._dirty.clear()


class SpillSet(SpillMap):
    """A set of string keys on the same terms (for the reaction ids already processed)."""

    def add(self, key: Any) -> None:
        self[key] = 1

    def discard(self, key: Any) -> None:
        self.pop(key, None)


class StateStore:
    """One SQLite file: a table per spilled map, and `meta` for checkpoints (named blobs)."""

    def __init__(self, path: str | Path, capacity: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are opened by checkpoint() only.
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL survives a killed process; a power cut may lose the last
        # checkpoints, which the worker then rebuilds from the topics like a missing file.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, v BLOB NOT NULL)")
        self.capacity = capacity
        self.maps: dict[str, SpillMap] = {}

    def map(self, name: str) -> SpillMap:
        return self._add(SpillMap(self.db, name, self.capacity))

    def set(self, name: str) -> SpillSet:
        return self._add(SpillSet(self.db, name, self.capacity))  # type: ignore[return-value]

    def _add(self, m: SpillMap) -> SpillMap:
        self.maps[m._table] = m
        return m

    @property
    def dirty(self) -> int:
        return max((m.dirty for m in self.maps.values()), default=0)

    def evict(self) -> int:
        return sum(m.evict() for m in self.maps.values())

    def checkpoint(self, meta: dict[str, bytes]) -> None:
        """Writes every dirty value and the named blobs in one SQLite transaction."""
        self.db.execute("BEGIN")
        try:
            for m in self.maps.values():
                m.write_dirty()
            self.db.executemany("INSERT OR REPLACE INTO meta (name, v) VALUES (?, ?)",
                                [(name, blob) for name, blob in meta.items()])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        for m in self.maps.values():
            m.written()

    def meta(self) -> dict[str, bytes]:
        return {name: bytes(v) for name, v in self.db.execute("SELECT name, v FROM meta")}

    def wipe(self) -> None:
        """Empties every table (the state is rebuilt from the topics)."""
        self.db.execute("BEGIN")
        for table in [*self.maps, "meta"]:
            self.db.execute(f'DELETE FROM "{table}"')
        self.db.execute("COMMIT")
        for m in self.maps.values():
            m.forget()

    def close(self) -> None:
        self.db.close()


# ------------------------------------------------------------------------- checkpoint offsets

Offsets = dict[tuple[str, int], int]  # (topic, partition) -> next offset


def pack_offsets(offsets: Offsets) -> bytes:
    return marshal.dumps({(topic, partition): int(o) for (topic, partition), o in offsets.items()})


def unpack_offsets(raw: bytes) -> Offsets:
    return marshal.loads(raw)


CHECKPOINT_PARTS = ("format", "state", "inputs", "views", "journal")


def checkpoint_problem(meta: dict[str, bytes], committed: Offsets, journal_end: Offsets) -> str | None:
    """Why a checkpoint cannot be the starting point (None: it can). It must be complete, of
    this format, and never ahead of Kafka: its input offsets at most the offsets committed by
    the ledger's transactions, its journal offsets at most the journal's end. A checkpoint
    ahead of Kafka means the topics were recreated under it."""
    if not meta:
        return "no checkpoint"
    missing = [p for p in CHECKPOINT_PARTS if p not in meta]
    if missing:
        return f"incomplete checkpoint (no {', '.join(missing)})"
    if meta["format"] != FORMAT.encode():
        return f"written as {meta['format'].decode(errors='replace')!r}, this is {FORMAT!r}"
    for name, limits in (("inputs", committed), ("journal", journal_end)):
        for (topic, partition), offset in unpack_offsets(meta[name]).items():
            limit = limits.get((topic, partition))
            if limit is None:
                return f"{topic}[{partition}] of the checkpoint no longer exists"
            if offset > limit:
                return f"{topic}[{partition}] at {offset} in the checkpoint, beyond {limit} in Kafka (topics recreated?)"
    return None
