"""The ledger's rule memory on local disk, with a bounded cache in RAM (the Kafka Streams model:
a local store plus checkpoints, rebuilt from the topics when it is missing).

Exactly once: the SQLite file is written only at checkpoints, in one SQLite transaction holding
the dirty values and the input offsets they reflect, once every batch applied so far is committed
in Kafka; after a crash the worker re-applies the inputs from those offsets (recovery.py).
Values are JSON data stored as JSON text (one orjson call per map at a checkpoint); a checkpoint
of another store format, Python version or state schema is rebuilt from the topics.
"""
from __future__ import annotations

import marshal
import sqlite3
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

import orjson

_MISSING = object()
PREFETCH_CHUNK = 500  # keys per query (SQLite allows 32766 parameters)
# values in JSON; the checkpoint's small parts and offsets in marshal (see LedgerState.small_parts)
FORMAT = f"ledger-store-5 json python-{sys.version_info[0]}.{sys.version_info[1]} marshal-{marshal.version}"
_decode = orjson.loads


class SpillMap:
    """A dict-like map whose values live in a SQLite table, with at most about `capacity` of
    them cached in memory between checkpoints.

    Every key written since the last checkpoint is *dirty*: it stays in memory and is written
    at the next checkpoint. In a map of `mutable` values, which callers change in place, a key
    read is dirty too. Only clean keys are evicted (oldest-touched first), so nothing is lost
    and nothing is read back stale. A key deleted since the checkpoint is dirty and absent from
    memory; it must not be read back from the table.
    """

    def __init__(self, db: sqlite3.Connection, table: str, capacity: int, mutable: bool = True) -> None:
        self._db = db
        self._table = table
        self.capacity = capacity
        self.mutable = mutable
        self._mem: dict[Any, Any] = {}
        self._dirty: set[Any] = set()
        # The keys in memory that are neither dirty nor being flushed, oldest-touched first: the
        # eviction candidates, kept apart so that eviction does not scan _mem past every dirty
        # and flushing key for each batch (up to two caches' worth, 8% of the ledger's time).
        self._clean: dict[Any, None] = {}
        self._absent: set[Any] = set()  # keys a prefetch found on neither side (until the next checkpoint)
        self._flushing: set[Any] = set()  # the dirty keys of the checkpoint being written
        self._below: Any = None  # drop_below's bound: every checkpoint deletes the rows under it
        db.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID')
        self._select = f'SELECT v FROM "{table}" WHERE k = ?'
        # A checkpoint writes a map with two statements whose one argument is a JSON document,
        # not a statement per row: each row of executemany takes the GIL back from the busy
        # event loop, and a writer thread that does so thousands of times crawls.
        # json_each gives arrays and objects as JSON text, and other values as SQL values
        # (true as 1): json_quote turns those back into JSON, and true and false are kept.
        self._upsert = (f'INSERT OR REPLACE INTO "{table}" (k, v) SELECT key, CASE type WHEN \'true\' THEN \'true\' '
                        f'WHEN \'false\' THEN \'false\' ELSE json_quote(value) END FROM json_each(?)')
        self._delete = f'DELETE FROM "{table}" WHERE k IN (SELECT value FROM json_each(?))'
        self._scan = f'SELECT k, v FROM "{table}"'
        self._delete_below = f'DELETE FROM "{table}" WHERE k < ?'

    # -- reading ---------------------------------------------------------------------------
    def _load(self, key: Any) -> Any:
        # dirty and not in memory: deleted since the checkpoint; absent: known not to be on disk
        if key in self._dirty or key in self._flushing or key in self._absent:
            return _MISSING
        row = self._db.execute(self._select, (key,)).fetchone()
        if row is None:
            return _MISSING
        value = self._mem[key] = _decode(row[0])
        self._clean[key] = None
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._mem.get(key, _MISSING)
        if value is _MISSING:
            value = self._load(key)
            if value is _MISSING:
                return default
        if self.mutable:
            self._dirty.add(key)  # the caller may change it in place
            self._clean.pop(key, None)
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
            if key not in self._mem and key not in self._dirty and key not in self._flushing:
                yield key, _decode(raw)

    def prefetch(self, keys: Iterable[Any]) -> None:
        """Loads those of `keys` that are on disk with a few queries, and notes the ones that
        are nowhere, so that a batch's lookups need no query each (one query per lookup, most
        of them for keys never seen, is a quarter of the ledger's time)."""
        mem, dirty, flushing = self._mem, self._dirty, self._flushing
        wanted = list({k for k in keys if k not in mem and k not in dirty and k not in flushing})
        for i in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[i:i + PREFETCH_CHUNK]
            marks = ",".join("?" * len(chunk))
            found = self._db.execute(f'SELECT k, v FROM "{self._table}" WHERE k IN ({marks})', chunk).fetchall()
            for key, raw in found:
                mem[key] = _decode(raw)
                self._clean[key] = None
            self._absent.update(chunk)
            self._absent.difference_update(key for key, _ in found)

    def __iter__(self) -> Iterator[Any]:
        return (key for key, _ in self.items())

    # -- writing ---------------------------------------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        self._mem[key] = value
        self._dirty.add(key)
        self._clean.pop(key, None)

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        del self._mem[key]
        self._dirty.add(key)
        self._clean.pop(key, None)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        del self._mem[key]
        self._dirty.add(key)
        self._clean.pop(key, None)
        return value

    def setdefault(self, key: Any, default: Any) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            self[key] = value = default
        return value

    def drop_below(self, bound: str) -> None:
        """Forgets every key that sorts before `bound` (maps keyed by day first: the days left
        behind), in memory now and on disk at each checkpoint from the next one on."""
        for keys in (self._mem, self._dirty, self._clean, self._absent):
            for key in [k for k in keys if k < bound]:
                if isinstance(keys, set):
                    keys.discard(key)
                else:
                    del keys[key]
        if self._below is None or bound > self._below:
            self._below = bound

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
        victims = list(islice(self._clean, excess))
        mem, clean = self._mem, self._clean
        for key in victims:
            del mem[key]
            del clean[key]
        return len(victims)

    def snapshot(self) -> tuple[bytes, bytes]:
        """The dirty keys' values (serialised now: callers change values afterwards) and the
        deleted keys, as JSON for the two statements of a checkpoint. Until written() they stay
        in memory, and deleted ones stay deleted."""
        assert not self._flushing, "one checkpoint at a time"
        mem = self._mem
        upserts = orjson.dumps({k: mem[k] for k in self._dirty if k in mem})
        deletes = orjson.dumps([k for k in self._dirty if k not in mem])
        self._flushing, self._dirty = self._dirty, set()
        return upserts, deletes

    def statements(self) -> list[tuple[str, Any]]:
        """This map's part of a checkpoint (see snapshot): the rows under drop_below's bound go
        first, so a key written again after its day was dropped is kept until the next one."""
        upserts, deletes = self.snapshot()
        below = [(self._delete_below, self._below)] if self._below is not None else []
        return [*below, (self._upsert, upserts), (self._delete, deletes)]

    def written(self) -> None:
        """After the checkpoint committed: its keys are clean, and the most recently touched,
        so they move to the end of the eviction order."""
        mem, dirty, clean = self._mem, self._dirty, self._clean
        for key in self._flushing:
            if key in mem and key not in dirty:  # (touched again meanwhile: dirty still)
                clean[key] = None
        self._flushing = set()
        self._absent.clear()  # some are on disk now

    def forget(self) -> None:
        self._mem.clear()
        self._dirty.clear()
        self._clean.clear()
        self._flushing.clear()
        self._absent.clear()


class SpillSet(SpillMap):
    """A set of string keys on the same terms (for the reaction ids already processed)."""

    def add(self, key: Any) -> None:
        self[key] = 1

    def discard(self, key: Any) -> None:
        self.pop(key, None)


def _connect(path: Path, threads: bool = False) -> sqlite3.Connection:
    # Autocommit mode: the only transactions are the checkpoints' (and wipe's).
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=not threads)
    # WAL: the reads of the rules go on while a checkpoint is written. With synchronous=NORMAL
    # it survives a killed process; a power cut may lose the last checkpoints, which the worker
    # then rebuilds from the topics like a missing file.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-8192")  # 8 MiB of pages per connection (default 2): keys land all over the B-trees
    return db


class TakenCheckpoint(NamedTuple):
    statements: list[tuple[str, Any]]
    meta: dict[str, bytes]


class StateStore:
    """One SQLite file: a table per spilled map, and `meta` for checkpoints (named blobs).

    The event loop reads through one connection; checkpoints are written by a thread of their
    own through another (SQLite runs without the GIL), so the loop only pays for serialising
    the dirty values. One checkpoint at a time.
    """

    def __init__(self, path: str | Path, capacity: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = _connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, v BLOB NOT NULL)")
        self._writer = _connect(self.path, threads=True)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-checkpoint")
        self._writing: Future | None = None
        self.capacity = capacity
        self.maps: dict[str, SpillMap] = {}

    def map(self, name: str, mutable: bool = True) -> SpillMap:
        """A map; `mutable=False` promises that values are replaced, never changed in place."""
        return self._add(SpillMap(self.db, name, self.capacity, mutable))

    def set(self, name: str) -> SpillSet:
        return self._add(SpillSet(self.db, name, self.capacity, mutable=False))  # type: ignore[return-value]

    def _add(self, m: SpillMap) -> SpillMap:
        self.maps[m._table] = m
        return m

    @property
    def dirty(self) -> int:
        return max((m.dirty for m in self.maps.values()), default=0)

    def evict(self) -> int:
        return sum(m.evict() for m in self.maps.values())

    def begin_checkpoint(self, meta: dict[str, bytes]) -> Future:
        """Takes every dirty value now and writes them with the named blobs in one SQLite
        transaction, in the writer thread. Call finish_checkpoint() once the future is done."""
        return self.write_checkpoint(self.take_checkpoint(meta))

    def take_checkpoint(self, meta: dict[str, bytes]) -> "TakenCheckpoint":
        """Every dirty value, serialised now (the rules change values afterwards), with the
        named blobs: what write_checkpoint() will write. Until then, and until it is finished,
        the values taken stay in memory."""
        assert self._writing is None, "one checkpoint at a time"
        statements = []  # (statement, JSON argument) pairs: the thread touches no map
        for m in self.maps.values():
            statements += m.statements()
        return TakenCheckpoint(statements, meta)

    def write_checkpoint(self, taken: "TakenCheckpoint") -> Future:
        assert self._writing is None, "one checkpoint at a time"
        self._writing = self._thread.submit(self._write, taken.statements, taken.meta)
        return self._writing

    def _write(self, statements: list[tuple[str, Any]], meta: dict[str, bytes]) -> None:
        db = self._writer
        db.execute("BEGIN")
        try:
            for sql, argument in statements:
                db.execute(sql, (argument,))
            db.executemany("INSERT OR REPLACE INTO meta (name, v) VALUES (?, ?)", list(meta.items()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def finish_checkpoint(self) -> None:
        """Raises if the write failed (the caller then starts over from the previous one)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()
            for m in self.maps.values():
                m.written()

    def checkpoint(self, meta: dict[str, bytes]) -> None:
        """A checkpoint, waiting for it."""
        self.begin_checkpoint(meta)
        self.finish_checkpoint()

    def meta(self) -> dict[str, bytes]:
        return {name: bytes(v) for name, v in self.db.execute("SELECT name, v FROM meta")}

    def wipe(self) -> None:
        """Empties every table (the state is rebuilt from the topics)."""
        self.finish_checkpoint()
        # every table in the file, not only the maps opened so far
        tables = [name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        self.db.execute("BEGIN")
        for table in tables:
            self.db.execute(f'DELETE FROM "{table}"')
        self.db.execute("COMMIT")
        for m in self.maps.values():
            m.forget()

    def close(self) -> None:
        """Lets a checkpoint being written finish (or fail: it is all or nothing), then closes."""
        self._thread.shutdown(wait=True)
        self._writer.close()
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
