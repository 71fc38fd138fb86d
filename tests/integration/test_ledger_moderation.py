"""Moderation in the ledger, on the real stack: POST /v1/ledger/adjustments needs the admin
scope, names the bad field, and the ledger journals each adjustment exactly once (a repeat over
HTTP and the same record written twice to the topic alike); serial upvotes are reversed."""
from services.core.contracts import Adjustment
from tests.integration.conftest import produce_raw, wait_for
from tests.integration.test_access import bearer, key_with


def balance(http, user):
    status, body = http.get("ledger", f"/v1/users/{user}/balance")
    return body["balance"] if status == 200 else None


def entries(http, user):
    status, body = http.get("ledger", f"/v1/users/{user}/entries")
    return body["entries"] if status == 200 else []


def test_an_adjustment_needs_the_admin_scope_and_a_valid_body(http, run_id):
    body = {"user_id": f"{run_id}:u", "delta": 10, "reason": "welcome bonus"}
    assert http.request("POST", "ingest", "/v1/ledger/adjustments", body, auth=False)[0] == 401
    status, _, problem = http.request("POST", "ingest", "/v1/ledger/adjustments", body, auth=False,
                                      headers=bearer(key_with({"write"})))
    assert status == 403 and "admin" in problem["detail"]
    for bad, field in [({**body, "delta": 0}, "delta"), ({**body, "delta": 1.5}, "delta"), ({**body, "delta": True}, "delta"),
                       ({**body, "reason": "  "}, "reason"), ({"delta": 3, "reason": "x"}, "user_id")]:
        status, problem = http.post("ingest", "/v1/ledger/adjustments", bad)
        assert status == 422 and problem["field"] == field, (bad, problem)


def test_an_adjustment_is_journalled_once_however_often_it_arrives(http, run_id):
    user = f"{run_id}:helper"
    body = {"adjustment_id": f"{run_id}:adj1", "user_id": user, "delta": 25, "reason": "support ticket 1"}
    first = http.post("ingest", "/v1/ledger/adjustments", body)
    again = http.post("ingest", "/v1/ledger/adjustments", body)
    assert (first[0], first[1]["status"], again[0], again[1]["status"]) == (202, "accepted", 200, "duplicate")
    # the same record on the topic twice (a producer retry past ingest): one entry still
    twice = Adjustment(adjustment_id=f"{run_id}:adj2", user_id=user, delta=-5, reason="correction",
                       created_at="2026-12-07T12:00:00.000Z", requested_by="dev")
    produce_raw("ledger.adjustments.v1", [twice.to_json(), twice.to_json()], key=user.encode())
    wait_for(lambda: balance(http, user) == 20, what="the two adjustments in the balance")
    wait_for(lambda: len(entries(http, user)) >= 2, what="the entries view")
    mine = entries(http, user)
    assert sorted((e["delta"], e["reason"], e["source_event_id"]) for e in mine) == [
        (-5, "adjustment", f"{run_id}:adj2"), (25, "adjustment", f"{run_id}:adj1")]


def test_serial_upvotes_from_one_user_to_another_are_reversed_past_the_limit(http, run_id):
    from services.ledger.rules import load_rules
    limit = load_rules().serial_votes
    fan, star = f"{run_id}:fan", f"{run_id}:star"
    assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:q", "author_id": f"{run_id}:asker",
                                             "text": "Which tent for a windy ridge?"})[0] == 202
    for i in range(limit + 2):
        assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:a{i}", "author_id": star, "reply_to": f"{run_id}:q",
                                                 "text": f"A geodesic tent, guyed out on every side ({i})."})[0] == 202
    for i in range(limit + 2):
        assert http.post("ingest", "/v1/reactions", {"reaction_id": f"{run_id}:v{i}", "actor_id": fan,
                                                     "post_id": f"{run_id}:a{i}", "kind": "upvote"})[0] == 202
    per_vote = load_rules().upvote_reply
    wait_for(lambda: sum(e["reason"] == "serial_vote_reversal" for e in entries(http, star)) == 2, timeout=60,
             what="two serial votes reversed")
    assert balance(http, star) == limit * per_vote
