"""Helper actions on the real stack: POST /v1/helper-actions validates, writes
helper.actions.v1, and a decline takes the ask out of that helper's inbox only."""
from tests.integration.conftest import first_wave, wait_for


def inbox(http, user):
    status, body = http.get("match", f"/v1/helpers/{user}/inbox")
    assert status == 200
    return [item["post_id"] for item in body["open"]]


def test_bad_helper_actions_are_refused_with_the_field_named(http, run_id):
    for body, field in [({"helper_id": "h", "post_id": "p", "action": "ignore"}, "action"),
                        ({"helper_id": "h", "post_id": "p", "action": "snooze"}, "until"),
                        ({"post_id": "p", "action": "done"}, "helper_id")]:
        status, problem = http.post("ingest", "/v1/helper-actions", body)
        assert status == 422 and problem["field"] == field
    first = http.post("ingest", "/v1/helper-actions", {"action_id": f"{run_id}:a", "helper_id": "h",
                                                        "post_id": "p", "action": "done"})
    again = http.post("ingest", "/v1/helper-actions", {"action_id": f"{run_id}:a", "helper_id": "h",
                                                        "post_id": "p", "action": "done"})
    assert (first[0], first[1]["status"]) == (202, "accepted") and (again[0], again[1]["status"]) == (200, "duplicate")


def test_a_decline_leaves_the_other_helpers_asked(http, run_id):
    helpers = [f"{run_id}:h{i}" for i in range(2)]
    for i, helper in enumerate(helpers):  # both have answered about espresso before
        q = f"{run_id}:q{i}"
        assert http.post("ingest", "/v1/posts", {"post_id": q, "author_id": f"{run_id}:old{i}", "tags": ["espresso"],
                         "text": "How fine should I grind for espresso?"})[0] == 202
        assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:r{i}", "author_id": helper, "reply_to": q,
                         "text": "Finer than drip; aim for a 25 second shot."})[0] == 202
    # The follower learns the answers asynchronously: ask until a match names both helpers.
    for attempt in range(20):
        ask = f"{run_id}:ask{attempt}"
        assert http.post("ingest", "/v1/posts", {"post_id": ask, "author_id": f"{run_id}:asker", "tags": ["espresso"],
                         "text": "Can anyone help? My espresso shots run too fast."})[0] == 202
        if set(helpers) <= set(first_wave(ask)["asked"]):
            break
    else:
        raise AssertionError("no first wave asked both helpers")
    wait_for(lambda: all(ask in inbox(http, h) for h in helpers), what="the request in both helpers' inboxes")
    assert http.post("ingest", "/v1/helper-actions", {"helper_id": helpers[0], "post_id": ask, "action": "decline"})[0] == 202
    wait_for(lambda: ask not in inbox(http, helpers[0]), what="the declined ask to leave the helper's inbox")
    assert ask in inbox(http, helpers[1])
