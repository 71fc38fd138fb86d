"""Asks in waves on the real stack (deploy/test.sh sets GOALPOST_MATCH_WAVE_AFTER_S=4): the next
wave when nobody replies, a decline passed on at once, a snoozed helper left alone, no wave after
an answer, nobody asked twice, one notification per ask with its deterministic id, and a kill -9
of match between two waves that neither loses the due wave nor sends it twice. Then match's
scripts on the real Redis (a scratch database): each touches only the keys in its KEYS, two
workers' claims lease a due post once, and an end cleans the inboxes of helpers asked since its read."""
import asyncio
import os
import re
import signal
import time
from collections import Counter

import pytest
import redis.asyncio as aioredis

from services.core.contracts import ClassifiedPost
from services.core.runtime import Runtime
from services.core.settings import Settings, env
from services.match import asks
from services.match.app import Matcher, index_for, policy_for
from services.match.follower import Effects, apply_to_index
from services.match.views import MatchViews
from services.match.waves import Step, notification_id
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


SCRATCH_DB = 14  # the stack's data is in db 0
# Prepended to each script: every key a command names must be one of KEYS (a single Redis does
# not check it; a cluster fails only when the key is in another slot).
DECLARED_ONLY = """
local declared = {}
for _, k in ipairs(KEYS) do declared[k] = true end
local function call(cmd, ...)
  local a = {...}
  for j = 1, (cmd == 'DEL' or cmd == 'EXISTS') and #a or 1 do
    if not declared[a[j]] then error('undeclared key ' .. tostring(a[j]) .. ' in ' .. cmd) end
  end
  return redis.call(cmd, ...)
end
"""


def classified(post_id, author, text, reply_to=None, intent="request"):
    return ClassifiedPost(post_id=post_id, author_id=author, text=text, created_at="2026-12-01T10:00:00.000Z",
                          reply_to=reply_to, tags=[], source="test", intent=intent, confidence=0.9,
                          scores={"goal": 0.02, "request": 0.9, "offer": 0.04, "status": 0.04},
                          topics=["beer"], model_version="test").to_dict()


@pytest.fixture
def scripted(monkeypatch):
    """A matcher and views on a scratch Redis database, sending nowhere, with every script
    checking its keys, and three posts asked their first wave."""
    for name in [n for n in vars(asks) if n.endswith("_LUA")]:
        monkeypatch.setattr(asks, name, DECLARED_ONLY + re.sub(r"redis\.call\(", "call(", getattr(asks, name)))
    loop = asyncio.new_event_loop()
    rt = Runtime("match")
    rt.redis = aioredis.Redis.from_url(env("GOALPOST_REDIS_URL").rsplit("/", 1)[0] + f"/{SCRATCH_DB}")

    async def send(records, wait=True):
        return len(list(records))
    rt.send_records = send  # type: ignore[method-assign]
    matcher, views = Matcher(rt, index_for(rt.settings), policy_for(rt.settings)), MatchViews(rt)
    effects = Effects()
    for i in range(12):
        apply_to_index(matcher.index, "posts.classified.v1", classified(f"q{i}", f"asker{i}", f"which hops for a pale ale {i}?"), effects)
        apply_to_index(matcher.index, "posts.classified.v1",
                       classified(f"a{i}", f"h{i}", "citra and mosaic hops for a pale ale", f"q{i}", "offer"), effects)
    posts = [ClassifiedPost.from_dict(classified(p, "asker", "best hops for a pale ale?")) for p in ("A", "B", "C")]
    loop.run_until_complete(rt.redis.flushdb())
    waves = matcher.plan_waves([(p, Step(1, SIZE, new_wave=True), set(), None) for p in posts], first=True)
    loop.run_until_complete(matcher.send_and_store(waves))
    yield loop, rt, matcher, views
    loop.run_until_complete(rt.redis.flushdb())
    loop.run_until_complete(rt.redis.aclose())
    loop.close()


def test_the_scripts_touch_only_their_keys_through_waves_declines_flags_answers_and_an_erasure(scripted):
    loop, rt, matcher, views = scripted
    r = rt.redis

    async def run():
        first = {h.decode() for h in await r.hkeys(asks.asks_key("A"))}
        assert len(first) == SIZE and all([await r.zscore(asks.inbox_key(h), "A") for h in first])
        await r.zadd(asks.DUE_KEY, {p: time.time() - 1 for p in ("A", "B", "C")})
        assert await matcher.run_due_waves() == 3
        asked = {h.decode() for h in await r.hkeys(asks.asks_key("A"))}
        assert first < asked and (await r.hget(asks.wave_key("A"), "wave")) == b"2"
        decliner = sorted(first)[0]
        await views.apply_effects(Effects(declined=[("A", decliner)] * 2, closed=[(decliner, "A")]))
        assert await r.hget(asks.wave_key("A"), "replace") == b"1" and await r.zscore(asks.inbox_key(decliner), "A") is None
        await views.apply_effects(Effects(ended=[("A", sorted(asked)[-1], time.time())]))
        assert not any([await r.zscore(asks.inbox_key(h), "A") for h in asked])
        assert not await r.exists(asks.wave_key("A"), asks.asks_key("A")) and await r.zscore(asks.DUE_KEY, "A") is None
        b_asked = await r.hkeys(asks.asks_key("B"))
        await views.apply_effects(Effects(flagged=[("B", f"f{i}") for i in range(SETTINGS.flags_to_withdraw)]))
        assert await r.exists(asks.withdrawn_key("B")) and not await r.exists(asks.match_key("B"))
        assert not any([await r.zscore(asks.inbox_key(h.decode()), "B") for h in b_asked])
        erased = sorted(h.decode() for h in await r.hkeys(asks.asks_key("C")))[0]
        await views.erase_from_views(erased)
        assert not await r.exists(asks.inbox_key(erased)) and not await r.hexists(asks.asks_key("C"), erased)
    loop.run_until_complete(run())


def test_two_claims_of_the_same_due_posts_lease_each_once(scripted):
    loop, rt, _, _ = scripted

    async def run():
        await rt.redis.zadd(asks.DUE_KEY, {p: time.time() - 1 for p in ("A", "B", "C")})
        keys, args = asks.claim_call(["A", "B", "C"], time.time(), 30)
        claim = rt.script("claim_waves", asks.CLAIM_WAVES_LUA)
        return await claim(keys=keys, args=args), await claim(keys=keys, args=args)
    first, second = loop.run_until_complete(run())
    assert sorted(asks.Claimed(row).post_id for row in first) == ["A", "B", "C"] and second == []


def test_an_end_returns_the_helpers_asked_since_its_read(scripted):
    loop, rt, _, _ = scripted

    async def run():
        asked = sorted(h.decode() for h in await rt.redis.hkeys(asks.asks_key("C")))
        keys, args = asks.end_call([("C", "", False, asked[:1])])  # as if a wave stored the others meanwhile
        rows = await rt.script("end_posts", asks.END_POSTS_LUA)(keys=keys, args=args)
        return asked, rows
    asked, rows = loop.run_until_complete(run())
    assert sorted(h.decode() for h in rows[0][1]) == asked[1:] and rows[0][0]
