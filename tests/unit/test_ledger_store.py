"""The ledger's rule memory on disk (services/ledger/store.py): a map with a bounded cache and
checkpoints, and the rules giving the same entries on it as on plain dicts."""

from __future__ import annotations

import dataclasses
import json

import pytest

from services.ledger.rules import LedgerState, apply_event, load_rules
from services.ledger.store import FORMAT, StateStore, checkpoint_problem, pack_offsets, unpack_offsets
from tests.unit.test_ledger_rules import random_stream

RULES = dataclasses.replace(load_rules(), ring_min_pair_count=3, ring_rate_ratio=2, daily_vote_cap=60)


@pytest.fixture
def store(tmp_path):
    s = StateStore(tmp_path / "state.sqlite", capacity=4)
    yield s
    s.close()


def test_values_survive_eviction_and_a_checkpoint(store):
    m = store.map("things")
    for i in range(10):
        m[f"k{i}"] = [i]
    store.checkpoint({})
    assert store.evict() == 6 and m.cached == 4
    assert m["k0"] == [0] and "k9" in m and "nope" not in m
    assert m.get("nope", "default") == "default"


def test_a_value_changed_in_place_is_written_at_the_checkpoint(store):
    m = store.map("votes")
    m["p1"] = {"alice": 1}
    store.checkpoint({})
    for i in range(10):  # push p1 out of memory
        m[f"other{i}"] = {}
    store.checkpoint({})
    store.evict()
    m.get("p1")["bob"] = 2  # read back from disk, then changed in place
    store.checkpoint({})
    for i in range(10, 20):
        m[f"other{i}"] = {}
    store.checkpoint({})
    store.evict()
    assert m.cached == 4 and m["p1"] == {"alice": 1, "bob": 2}


def test_dirty_values_are_never_evicted(store):
    m = store.map("posts")
    for i in range(10):
        m[f"p{i}"] = [i]
    assert store.evict() == 0 and m.cached == 10 and m.dirty == 10


def test_eviction_takes_the_oldest_clean_values_and_spares_those_being_written(store):
    m = store.map("posts", mutable=False)
    for i in range(4):
        m[f"old{i}"] = [i]
    store.checkpoint({})  # old0..old3 clean, in that order
    m.get("old0")  # reading an immutable value does not change the order
    for i in range(4):
        m[f"new{i}"] = [i]
    writing = store.begin_checkpoint({})  # new0..new3 are being written: not evictable yet
    m["old1"] = ["changed"]  # dirty again
    assert store.evict() == 3  # 8 cached, capacity 4: only old0, old2, old3 may go
    assert m.cached == 5 and {k for k in ("old0", "old2", "old3") if k in m._mem} == set()
    writing.result()
    store.finish_checkpoint()  # new0..new3 clean now (in no particular order among themselves)
    m["extra"] = [0]
    store.checkpoint({})  # old1 and extra clean, after new0..new3
    assert store.evict() == 2
    assert {"old1", "extra"} <= set(m._mem) and len(set(m._mem) & {"new0", "new1", "new2", "new3"}) == 2
    assert m["old0"] == [0] and m["new0"] == [0] and m["old1"] == ["changed"]  # from disk


def test_a_deleted_key_is_not_read_back_from_the_table(store):
    m = store.map("posts")
    m["p1"] = ["alice"]
    store.checkpoint({})
    del m["p1"]
    assert "p1" not in m and m.get("p1") is None
    store.checkpoint({})
    assert "p1" not in m
    with pytest.raises(KeyError):
        del m["p1"]


def test_pop_setdefault_and_sets(store):
    m, seen = store.map("routed"), store.set("seen")
    assert m.setdefault("q", {}) == {} and m.pop("q") == {} and m.pop("q", None) is None
    seen.add("r1")
    store.checkpoint({})
    seen.discard("r1")
    seen.discard("never")
    assert "r1" not in seen
    seen.add("r2")
    assert sorted(seen) == ["r2"]


def test_a_checkpoint_is_all_or_nothing(tmp_path):
    path = tmp_path / "state.sqlite"
    s = StateStore(path, capacity=100)
    m = s.map("posts")
    m["p1"] = ["alice"]
    s.checkpoint({"offsets": b"1"})
    m["p2"] = ["bob"]  # applied but not checkpointed: a crash loses it, and replay redoes it
    s.close()
    again = StateStore(path, capacity=100)
    m2 = again.map("posts")
    assert again.meta() == {"offsets": b"1"} and "p1" in m2 and "p2" not in m2
    again.close()
    third = StateStore(path, capacity=100)
    third.wipe()  # before any map is opened: the file's tables are emptied all the same
    assert third.meta() == {} and "p1" not in third.map("posts")
    third.close()


def batches(events, size=40):
    return [events[i:i + size] for i in range(0, len(events), size)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rules_on_a_small_store_give_the_same_entries_as_on_dicts(tmp_path, seed):
    """Capacity 8 forces almost every value through the disk. Events go in batches as in the
    service (prefetch, apply, evict, sometimes a checkpoint); a restore from the last
    checkpoint in the middle (a crash) re-applies the events after it, as the service does."""
    events = random_stream(seed)
    plain = LedgerState()
    expected = [[e.to_dict() for e in apply_event(plain, ev, RULES)] for ev in events]

    def apply(st, batch, out):
        st.prefetch(batch)
        for ev in batch:
            entries = [e.to_dict() for e in apply_event(st, ev, RULES)]
            if out is not None:
                out.append(entries)
        st.evict()

    path = tmp_path / "state.sqlite"
    store = StateStore(path, capacity=8)
    st = LedgerState(store)
    got, done, checkpoint_at = [], 0, 0
    first_half = batches(events[:len(events) // 2])
    for i, batch in enumerate(first_half):
        apply(st, batch, got)
        done += len(batch)
        if i % 3 == 0:
            store.checkpoint({"state": st.small_parts(), "next": str(done).encode()})
            checkpoint_at = done
    store.close()  # the crash: everything after the checkpoint is lost

    store = StateStore(path, capacity=8)
    meta = store.meta()
    assert 0 < int(meta["next"]) == checkpoint_at < done
    st = LedgerState.restore(store, meta["state"])
    for batch in batches(events[checkpoint_at:done]):
        apply(st, batch, None)  # redone; their entries are in the journal already
    for i, batch in enumerate(batches(events[done:])):
        apply(st, batch, got)
        if i % 3 == 0:
            store.checkpoint({"state": st.small_parts()})
    assert got == expected
    assert max(m.cached for m in store.maps.values()) < 300  # bounded (dirty keys wait for a checkpoint)
    plain.balances = st.balances = {}  # the journal's part
    assert json.dumps(st.to_dict(), sort_keys=True) == json.dumps(plain.to_dict(), sort_keys=True)
    store.close()


def test_prefetch_loads_what_is_on_disk_and_remembers_what_is_not(store):
    m = store.map("posts", mutable=False)
    m["p1"] = ["alice"]
    store.checkpoint({})
    store.maps["posts"].forget()  # as after a restart: only the table has p1
    m.prefetch(["p1", "p2"])
    assert m.cached == 1 and m._absent == {"p2"}
    assert m.get("p1") == ["alice"] and "p2" not in m
    m["p2"] = ["bob"]
    assert m["p2"] == ["bob"]
    store.checkpoint({})
    store.maps["posts"].forget()
    assert m._absent == set() and m["p2"] == ["bob"]  # written at the checkpoint, read back


def test_a_checkpoint_is_usable_only_when_complete_of_this_format_and_not_ahead_of_kafka():
    tp, jp = ("posts.classified.v1", 0), ("ledger.entries.v1", 0)
    meta = {"format": FORMAT.encode(), "state": b"", "views": b"",
            "inputs": pack_offsets({tp: 10}), "journal": pack_offsets({jp: 30})}
    assert checkpoint_problem(meta, {tp: 10}, {jp: 31}) is None
    assert checkpoint_problem({}, {tp: 10}, {jp: 31}) == "no checkpoint"
    assert "no views" in checkpoint_problem({k: v for k, v in meta.items() if k != "views"}, {tp: 10}, {jp: 31})
    assert "written as" in checkpoint_problem({**meta, "format": b"ledger-store-0"}, {tp: 10}, {jp: 31})
    assert "beyond 9" in checkpoint_problem(meta, {tp: 9}, {jp: 31})  # topics recreated
    assert "beyond 29" in checkpoint_problem(meta, {tp: 10}, {jp: 29})
    assert "no longer exists" in checkpoint_problem(meta, {}, {jp: 31})
    assert unpack_offsets(pack_offsets({tp: 10})) == {tp: 10}


def test_the_rules_go_on_while_a_checkpoint_is_written(tmp_path):
    path = tmp_path / "state.sqlite"
    s = StateStore(path, capacity=1)
    m = s.map("posts")
    m["a"], m["b"] = [1], [2]
    s.checkpoint({})
    del m["a"]
    m["c"] = [3]
    writing = s.begin_checkpoint({"n": b"1"})
    m["c"].append(4)  # changed after the snapshot: belongs to the next checkpoint
    m["d"] = [5]
    s.evict()  # keys being written stay in memory
    assert "a" not in m and m["c"] == [3, 4] and m.cached >= 2
    writing.result()
    s.finish_checkpoint()
    s.close()
    again = StateStore(path, capacity=1)
    m2 = again.map("posts")
    assert again.meta() == {"n": b"1"}
    assert "a" not in m2 and m2["b"] == [2] and m2["c"] == [3] and "d" not in m2
    again.close()


def test_values_come_back_from_disk_as_the_json_they_were(store):
    """Values round-trip through JSON text: true and false stay booleans (SQLite's json_each
    gives them as 1 and 0), strings with quotes stay strings, tuples come back as lists."""
    m = store.map("accepted")
    value = {"bonus": True, "late": False, "none": None, "text": 'say "hi"\x1f', "n": -3, "grants": [("u", 5)]}
    m["root"] = value
    m["flag"] = False
    store.checkpoint({})
    for i in range(10):  # push them out of memory
        m[f"other{i}"] = {}
    store.checkpoint({})
    store.evict()
    assert "root" not in m._mem and "flag" not in m._mem
    assert m["root"] == {**value, "grants": [["u", 5]]} and m["root"]["bonus"] is True
    assert m["flag"] is False
