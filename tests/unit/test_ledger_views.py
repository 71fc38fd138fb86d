"""The ledger's read views as pure functions of the journal."""
from services.ledger.store import StateStore
from services.ledger.views import LiveViews, compare_balances, views_from_entries, window_keys


def entry(eid, user, delta, created="2026-11-26T10:00:00.000Z"):
    return {"entry_id": eid, "user_id": user, "delta": delta, "created_at": created}


def test_a_journal_read_counts_each_entry_once():
    views = views_from_entries([entry("e1", "ann", 10), entry("e1", "ann", 10), entry("e2", "ann", -2)])
    assert views.balances == {"ann": 8}


def test_windows_follow_the_utc_day_and_iso_week():
    views = views_from_entries([entry("e1", "ann", 10, "2026-11-26T23:59:59.000Z"),
                                entry("e2", "ann", 5, "2026-11-27T00:00:00.000Z")])
    assert views.windows["day"] == {"2026-11-26": {"ann": 10}, "2026-11-27": {"ann": 5}}
    assert views.windows["week"] == {"2026-W48": {"ann": 15}}
    assert window_keys("2026-01-01T00:00:00+00:00") == {"day": "2026-01-01", "week": "2026-W01"}


def test_compare_balances_names_each_difference():
    assert compare_balances({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 1}) == ["b: journal 2 != view 3",
                                                                           "c: journal 0 != view 1"]


def test_live_views_keep_the_newest_windows_and_leave_closed_ones_alone():
    views = LiveViews(keep_windows=2)
    for day in ["2026-11-24", "2026-11-25", "2026-11-26"]:
        views.count("ann", 1, day)
    assert views.kept["day"] == ["2026-11-25", "2026-11-26"]
    assert views.users["ann"][1] == {"2026-11-25": 1, "2026-11-26": 1}  # the 24th's total is shed
    views.count("ann", 7, "2026-11-20")  # a window closed long ago
    assert views.kept["day"] == ["2026-11-25", "2026-11-26"] and views.balance("ann") == 10
    views.count("ann", 2, "2026-11-25")  # a kept window still counts
    assert views.users["ann"][1]["2026-11-25"] == 3
    update = views.update({"2026-11-20": {"ann"}}, {}, [])
    assert update["balances"] == {"ann": 12}
    # the closed day's board is left alone; its week (W47, with room for two weeks) is kept
    assert update["leaderboards"] == [["{ledger}:lb:week:2026-W47", {"ann": 7}]]


def test_live_views_in_a_store_survive_a_checkpoint(tmp_path):
    store = StateStore(tmp_path / "views.sqlite", capacity=10)
    views = LiveViews(store, keep_windows=2)
    for i in range(50):  # more users than the cache holds
        views.count(f"u{i}", i, "2026-11-24")
    store.checkpoint({"views": views.small_parts()})
    store.evict()
    views.count("u1", 5, "2026-11-25")
    views.count("u1", 5, "2026-11-26")  # the 24th closes
    store.checkpoint({"views": views.small_parts()})
    store.close()
    store = StateStore(tmp_path / "views.sqlite", capacity=10)
    again = LiveViews(store, keep_windows=2).restore(store.meta()["views"])
    assert again.kept["day"] == ["2026-11-25", "2026-11-26"]
    assert again.balance("u49") == 49 and again.balance("u1") == 11 and len(again.balances()) == 50
    assert again.users["u1"] == [11, {"2026-11-25": 5, "2026-11-26": 5}, {"2026-W48": 11}]
    update = again.update({"2026-11-26": {"u1", "u7"}}, {}, [])
    assert update["balances"] == {"u1": 11, "u7": 7}
    assert dict(update["leaderboards"]) == {"{ledger}:lb:day:2026-11-26": {"u1": 5, "u7": 0},
                                            "{ledger}:lb:week:2026-W48": {"u1": 11, "u7": 7}}
    again.forget("u1")
    assert again.balance("u1") == 0 and "u1" not in again.balances()
    store.close()
