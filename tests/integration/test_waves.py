"""Asks in waves on the real stack (deploy/test.sh sets GOALPOST_MATCH_WAVE_AFTER_S=4): the next
wave when nobody replies, a decline passed on at once, a snoozed helper left alone, no wave after
an answer, nobody asked twice, one notification per ask with its deterministic id, and a kill -9
of match between two waves that neither loses the due wave nor sends it twice."""
import os
import signal
import time
from collections import Counter

import pytest

from services.core.settings import Settings
from services.match.waves import notification_id
from services.tools import stack
from tests.integration.conftest import first_wave, read_topic, wait_for, waves_of

SETTINGS = Settings("match")
AFTER_S = SETTINGS.match_wave_after_s
SIZE, MAX_WAVES = SETTINGS.match_wave_size, SETTINGS.match_max_waves


@pytest.fixture(scope="module", autouse=True)
def short_timers():
    assert AFTER_S <= 10, "these tests need short wave timers (deploy/test.sh sets GOALPOST_MATCH_WAVE_AFTER_S)"


def experts(http, run_id: str, tag: str, n: int) -> list[str]:
    """n helpers who each answered a question tagged `tag`, learned by match."""
    helpers = [f"{run_id}:{tag}:h{i}" for i in range(n)]
    last = ""
    for i, helper in enumerate(helpers):
        q, last = f"{run_id}:{tag}:q{i}", f"{run_id}:{tag}:r{i}"
        assert http.post("ingest", "/v1/posts", {"post_id": q, "author_id": f"{run_id}:{tag}:old{i}", "tags": [tag],
                         "text": f"What is the best way to start with {tag}?"})[0] == 202
        assert http.post("ingest", "/v1/posts", {"post_id": last, "author_id": helper, "reply_to": q,
                         "text": f"Start {tag} small and practise every day."})[0] == 202
    wait_for(lambda: read_topic("posts.classified.v1", lambda r: r["post_id"] == last), what="the answers classified")
    time.sleep(1)  # the follower applies them right after
    return helpers


def ask(http, run_id: str, tag: str, name: str) -> str:
    post_id = f"{run_id}:{tag}:{name}"
    assert http.post("ingest", "/v1/posts", {"post_id": post_id, "author_id": f"{run_id}:{tag}:asker",
                     "tags": [tag], "text": f"Can anyone help me with {tag}? I am stuck."})[0] == 202
    return post_id


def inbox(http, user: str) -> list[str]:
    status, body = http.get("match", f"/v1/helpers/{user}/inbox")
    assert status == 200
    return [item["post_id"] for item in body["open"]]


def notifications_of(post_id: str) -> list[dict]:
    return read_topic("notifications.v1", lambda r: r.get("post_id") == post_id)


def test_unanswered_asks_go_out_in_waves_to_new_helpers_until_the_last(http, run_id):
    experts(http, run_id, "kombucha", 3 * SIZE + 2)
    post_id = ask(http, run_id, "kombucha", "ask")
    first = first_wave(post_id)
    assert len(first["asked"]) == SIZE and first["asked"] == [c["helper_id"] for c in first["candidates"][:SIZE]]
    waves = wait_for(lambda: (lambda w: w if len(w) >= MAX_WAVES else None)(waves_of(post_id)),
                     timeout=AFTER_S * MAX_WAVES + 30, what="every wave")
    time.sleep(AFTER_S * 1.5)  # and nothing after the last
    waves = waves_of(post_id)
    assert [w["wave"] for w in waves] == list(range(1, MAX_WAVES + 1))
    asked = [h for w in waves for h in w["asked"]]
    assert len(asked) == len(set(asked)) == SIZE * MAX_WAVES, "a helper was asked twice"
    for later in waves[1:]:  # ranked again without everyone asked before
        assert not {c["helper_id"] for c in later["candidates"]} & set(first["asked"])
    sent = notifications_of(post_id)
    assert sorted((n["helper_id"], n["wave"]) for n in sent) == sorted(
        (h, w["wave"]) for w in waves for h in w["asked"])
    assert all(n["notification_id"] == notification_id(post_id, n["helper_id"], n["wave"]) and n["reasons"]
               and n["_key"] == n["helper_id"] for n in sent)
    wait_for(lambda: all(post_id in inbox(http, h) for h in asked), what="every asked helper's inbox")


def test_a_reply_ends_the_waves_and_every_inbox(http, run_id):
    experts(http, run_id, "bonsai", 2 * SIZE)
    post_id = ask(http, run_id, "bonsai", "ask")
    first = first_wave(post_id)
    wait_for(lambda: all(post_id in inbox(http, h) for h in first["asked"]), what="the asks in the inboxes")
    assert http.post("ingest", "/v1/posts", {"post_id": f"{post_id}:reply", "author_id": first["asked"][0],
                     "reply_to": post_id, "text": "Water it when the soil is dry."})[0] == 202
    wait_for(lambda: not any(post_id in inbox(http, h) for h in first["asked"]), what="the asks to leave every inbox")
    time.sleep(AFTER_S * 2)
    assert [w["wave"] for w in waves_of(post_id)] == [1], "a wave was asked after the answer"


def test_a_decline_is_passed_on_within_its_wave_and_a_snoozed_helper_is_not_asked(http, run_id):
    helpers = experts(http, run_id, "origami", 3 * SIZE)
    snoozed = helpers[0]
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert http.post("ingest", "/v1/helper-actions", {"helper_id": snoozed, "post_id": f"{run_id}:any", "action": "snooze",
                                                      "until": until})[0] == 202
    time.sleep(1)
    post_id = ask(http, run_id, "origami", "ask")
    first = first_wave(post_id)
    decliner = first["asked"][0]
    assert http.post("ingest", "/v1/helper-actions", {"helper_id": decliner, "post_id": post_id,
                                                      "action": "decline"})[0] == 202
    replaced = wait_for(lambda: [w for w in waves_of(post_id) if w["wave"] == 1][1:],
                        timeout=AFTER_S + 20, what="the declined ask passed on")
    assert len(replaced[0]["asked"]) == 1 and replaced[0]["asked"][0] not in first["asked"]
    wait_for(lambda: post_id not in inbox(http, decliner), what="the declined ask to leave the inbox")
    wait_for(lambda: len({w["wave"] for w in waves_of(post_id)}) >= MAX_WAVES, timeout=AFTER_S * MAX_WAVES + 30,
             what="every wave")
    asked = [h for w in waves_of(post_id) for h in w["asked"]]
    assert snoozed not in asked and len(asked) == len(set(asked))


def test_a_kill_9_of_match_between_two_waves_neither_loses_nor_repeats_the_next(http, run_id):
    experts(http, run_id, "sailing", 2 * SIZE)
    post_id = ask(http, run_id, "sailing", "ask")
    first_wave(post_id)
    pid = stack._pid("match")
    assert pid
    os.killpg(pid, signal.SIGKILL)
    while stack._pid("match"):
        time.sleep(0.05)
    time.sleep(AFTER_S + 1)  # the second wave falls due while match is down
    stack.start_service("match")
    wait_for(lambda: stack._healthy("match"), timeout=120, what="match ready again")
    wait_for(lambda: any(w["wave"] == 2 for w in waves_of(post_id)), timeout=60, what="the second wave")
    wait_for(lambda: any(w["wave"] == MAX_WAVES for w in waves_of(post_id)), timeout=AFTER_S * MAX_WAVES + 30,
             what="the last wave")
    waves = Counter(w["wave"] for w in waves_of(post_id))
    assert waves == Counter(range(1, MAX_WAVES + 1)), f"waves sent: {waves}"
    ids = Counter(n["notification_id"] for n in notifications_of(post_id))
    assert len(ids) == SIZE * MAX_WAVES and set(ids.values()) == {1}


def test_flags_by_enough_distinct_users_withdraw_a_post_from_routing(http, run_id):
    need = SETTINGS.flags_to_withdraw
    experts(http, run_id, "juggling", 2 * SIZE)
    post_id = ask(http, run_id, "juggling", "ask")
    first = first_wave(post_id)
    wait_for(lambda: all(post_id in inbox(http, h) for h in first["asked"]), what="the asks in the inboxes")
    def flag(i, user):
        return http.post("ingest", "/v1/reactions", {"reaction_id": f"{run_id}:flag{i}", "actor_id": user,
                                                     "post_id": post_id, "kind": "flag"})
    for i in range(need - 1):  # one short, and the same user again: still routed
        assert flag(i, f"{run_id}:flagger{i}")[0] == 202
    assert flag(need, f"{run_id}:flagger0")[0] == 202
    time.sleep(2)
    assert all(post_id in inbox(http, h) for h in first["asked"])
    assert flag(need + 1, f"{run_id}:flagger{need}")[0] == 202
    wait_for(lambda: not any(post_id in inbox(http, h) for h in first["asked"]), what="the asks to leave every inbox")
    status, problem = http.get("match", f"/v1/posts/{post_id}/matches")
    assert status == 410 and problem["field"] == "post_id"
    time.sleep(AFTER_S * 2)
    assert [w["wave"] for w in waves_of(post_id)] == [1], "a withdrawn post was asked again"
