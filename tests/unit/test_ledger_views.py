"""The ledger's read views as pure functions of the journal."""
from services.ledger.views import Views, compare_balances, views_from_entries, window_keys


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


def test_live_views_without_dedupe_remember_no_ids():
    views = Views(dedupe=False)
    for i in range(3):
        views.add(entry(f"e{i}", "bob", 5))
    assert views.balances == {"bob": 15} and views.seen == set()


def test_compare_balances_names_each_difference():
    assert compare_balances({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 1}) == ["b: journal 2 != view 3",
                                                                           "c: journal 0 != view 1"]


def test_live_views_keep_the_newest_windows_and_leave_closed_ones_alone():
    views = Views(dedupe=False, keep_windows=2)
    for i, day in enumerate(["2026-11-24", "2026-11-25", "2026-11-26"]):
        views.add(entry(f"e{i}", "ann", 1, f"{day}T10:00:00.000Z"))
    assert sorted(views.windows["day"]) == ["2026-11-25", "2026-11-26"]
    views.add(entry("late", "ann", 7, "2026-11-20T10:00:00.000Z"))  # a window closed long ago
    assert sorted(views.windows["day"]) == ["2026-11-25", "2026-11-26"] and views.balances["ann"] == 10
    views.add(entry("e9", "ann", 2, "2026-11-25T11:00:00.000Z"))  # a kept window still counts
    assert views.windows["day"]["2026-11-25"] == {"ann": 3}


def test_live_views_survive_a_checkpoint():
    views = Views(dedupe=False, keep_windows=8)
    views.add(entry("e1", "ann", 4))
    again = Views.from_bytes(views.to_bytes())
    assert (again.balances, again.windows, again.keep_windows, again.dedupe) == \
        (views.balances, views.windows, 8, False)
