"""The walking skeleton on the real stack: a request posted over HTTP is classified and matched
to a helper who answered that topic before; the helper's reply is accepted by the asker; the
helper's balance rises and shows in GET /v1/users/{id}/balance."""
from tests.integration.conftest import first_wave, wait_for, waves_of


def balance(http, user):
    status, body = http.get("ledger", f"/v1/users/{user}/balance")
    assert status == 200
    return body["balance"]


def test_request_is_classified_matched_answered_and_rewarded(http, run_id):
    helper, first_asker, asker = f"{run_id}:helper", f"{run_id}:asker1", f"{run_id}:asker2"

    # Earlier: the helper answers a sourdough question and the asker accepts the answer.
    q1, a1 = f"{run_id}:q1", f"{run_id}:a1"
    assert http.post("ingest", "/v1/posts", {"post_id": q1, "author_id": first_asker, "tags": ["sourdough"],
                     "text": "How do I feed a sourdough starter, and how often?"})[0] == 202
    assert http.post("ingest", "/v1/posts", {"post_id": a1, "author_id": helper, "reply_to": q1,
                     "text": "Feed your sourdough starter equal weights of flour and water every 12 hours "
                             "at room temperature; discard half before each feeding."})[0] == 202
    assert http.post("ingest", "/v1/reactions", {"actor_id": first_asker, "post_id": a1, "kind": "accept"})[0] == 202
    wait_for(lambda: balance(http, helper) > 0, what="the helper's first accept in the ledger")
    before = balance(http, helper)

    # Now: a new request on the same topic is classified and routed to the helper.
    q2 = f"{run_id}:q2"
    status, body = http.post("ingest", "/v1/posts", {"post_id": q2, "author_id": asker, "tags": ["sourdough"],
                             "text": "Can anyone help? My sourdough starter smells sour and does not rise."})
    assert (status, body["post_id"]) == (202, q2)
    _, classified = http.post("classify", "/v1/classify", {"text": "Can anyone help? My sourdough starter "
                                                            "smells sour and does not rise."})
    assert classified["intent"] == "request"

    match = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(http.get("match", f"/v1/posts/{q2}/matches")),
                     what="the match of the new request")
    assert match["intent"] == "request" and all(c["reasons"] for c in match["candidates"])
    first = first_wave(q2)
    assert helper in first["asked"] and asker not in [c["helper_id"] for c in first["candidates"]]
    _, inbox = http.get("match", f"/v1/helpers/{helper}/inbox")
    assert q2 in [item["post_id"] for item in inbox["open"]]

    # The helper replies, the asker accepts: the helper's balance rises.
    a2 = f"{run_id}:a2"
    assert http.post("ingest", "/v1/posts", {"post_id": a2, "author_id": helper, "reply_to": q2,
                     "text": "A sour smell is normal; feed it twice a day and keep it warm."})[0] == 202
    assert http.post("ingest", "/v1/reactions", {"actor_id": asker, "post_id": a2, "kind": "accept"})[0] == 202
    after = wait_for(lambda: (lambda b: b if b >= before + 15 else None)(balance(http, helper)),
                     what="the helper's balance to rise by the accept")
    assert after >= before + 15
    _, entries = http.get("ledger", f"/v1/users/{helper}/entries")
    assert any(e["source_event_id"] and e["delta"] >= 15 for e in entries["entries"])
    # The reply ended the request for everyone asked, in any wave: it left every inbox.
    for candidate in {h for m in waves_of(q2) for h in m["asked"]}:
        wait_for(lambda candidate=candidate: q2 not in [i["post_id"] for i in http.get("match", f"/v1/helpers/{candidate}/inbox")[1]["open"]],
                 what=f"the answered request to leave {candidate}'s inbox")
