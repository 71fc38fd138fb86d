"""Erasure on the real stack: POST /v1/users/{user_id}/erase (admin). Within 60 s no Redis
view holds the user, they are no candidate, their balance, entries and leaderboard places are
gone while everyone else's balance is unchanged and `goalpost ledger verify` passes, and no
topic holds their texts in clear (they never did: texts are sealed with the author's key, and
the key is gone). A full restart of the stack, a crash of match and the ledger, and a
`ledger rebuild` do not bring them back."""
import asyncio
import os
import signal
import time

import orjson
import redis

from services.core.privacy import KEYS
from services.core.settings import env
from services.ledger import admin
from services.tools import stack
from tests.integration.conftest import first_wave, read_topic, wait_for
from tests.integration.test_access import bearer, key_with

GONE_WITHIN_S = 60


def balance(http, user):
    status, body = http.get("ledger", f"/v1/users/{user}/balance")
    assert status == 200
    return body["balance"], body["known"]


def leaders(http):
    status, body = http.get("ledger", "/v1/leaderboard?window=all&limit=100")
    return [row["user_id"] for row in body["leaders"]]


def held_by_redis(user: str) -> list[str]:
    """Every Redis key whose name or value names the user (values of strings and hashes)."""
    r = redis.Redis.from_url(env("GOALPOST_REDIS_URL"))
    found = []
    for key in r.scan_iter(count=1000):
        name = key.decode()
        if name.startswith(("{ingest}:rate:", "{ingest}:idem:")):  # guards, seconds long; not views
            continue
        kind = r.type(key)
        if user in name:
            found.append(name)
        elif kind == b"string" and user.encode() in (r.get(key) or b""):
            found.append(name)
        elif kind == b"hash" and (r.hexists(key, user) or any(user.encode() in v for v in r.hvals(key))):
            found.append(name)
        elif kind == b"zset" and r.zscore(key, user) is not None:
            found.append(name)
        elif kind == b"set" and r.sismember(key, user):
            found.append(name)
    return found


def restart(service: str) -> None:
    pid = stack._pid(service)
    assert pid
    os.killpg(pid, signal.SIGKILL)
    while stack._pid(service):
        time.sleep(0.05)
    stack.start_service(service)
    wait_for(lambda: stack._healthy(service), timeout=120, what=f"{service} ready again")


def test_an_erased_user_is_gone_from_every_view_and_stays_gone(http, run_id):
    user, asker, other = f"{run_id}-erasee", f"{run_id}-asker", f"{run_id}-other"
    secret = f"my secret sourdough recipe {run_id} uses rye"
    tag = f"rye{run_id[-6:]}"
    # The user answers a question, the asker accepts: both earn points.
    assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:q", "author_id": asker, "tags": [tag],
                     "text": "How do I bake with rye flour?"})[0] == 202
    assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:a", "author_id": user, "reply_to": f"{run_id}:q",
                     "text": secret})[0] == 202
    assert http.post("ingest", "/v1/reactions", {"actor_id": asker, "post_id": f"{run_id}:a", "kind": "accept"})[0] == 202
    wait_for(lambda: balance(http, user)[0] > 0 and balance(http, asker)[0] > 0, what="both balances")
    asker_before = balance(http, asker)[0]
    # The user asks, and is asked.
    assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:mine", "author_id": user, "tags": [tag],
                     "text": f"Can anyone help with rye starters? {secret}"})[0] == 202
    first_wave(f"{run_id}:mine")
    assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:theirs", "author_id": other, "tags": [tag],
                     "text": "Can anyone help me bake a rye loaf?"})[0] == 202
    asked = first_wave(f"{run_id}:theirs")["asked"]
    assert user in asked, "the only rye helper was not asked (the test's premise)"
    wait_for(lambda: user in leaders(http), what="the user on the leaderboard")

    # Only an admin key may erase.
    path = f"/v1/users/{user}/erase"
    assert http.request("POST", "ingest", path, {}, auth=False, headers=bearer(key_with({"write"})))[0] == 403
    status, body = http.post("ingest", path, {})
    assert status == 202 and body["erasure_id"]
    erased_at = time.monotonic()

    wait_for(lambda: balance(http, user) == (0, False), timeout=GONE_WITHIN_S, what="the balance gone")
    wait_for(lambda: not held_by_redis(user), timeout=GONE_WITHIN_S - (time.monotonic() - erased_at),
             what="no Redis view naming the user")
    assert user not in leaders(http)
    assert http.get("ledger", f"/v1/users/{user}/entries")[1]["entries"] == []
    assert balance(http, asker)[0] == asker_before  # everyone else's points stay
    assert asyncio.run(admin.verify()) == 0
    # No topic holds their texts in clear, and their sealed texts no longer open.
    for topic in ("posts.v1", "posts.classified.v1"):
        theirs = read_topic(topic, lambda r: r.get("author_id") == user)
        assert len(theirs) == 2 and all(secret not in orjson.dumps(r).decode() for r in theirs)
    assert not redis.Redis.from_url(env("GOALPOST_REDIS_URL")).hexists(KEYS, user)
    # They take no more posts, and are no candidate.
    status, problem = http.post("ingest", "/v1/posts", {"author_id": user, "text": "I am back"})
    assert status == 422 and problem["field"] == "author_id"
    assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:after", "author_id": other, "tags": [tag],
                     "text": "Anyone know rye flour well?"})[0] == 202
    assert user not in [c["helper_id"] for c in first_wave(f"{run_id}:after")["candidates"]]

    # A full restart of the stack (Kafka and Redis included), a crash of match and the ledger
    # after it, and a rebuild of the ledger's views: still gone.
    stack.down()
    stack.up()
    restart("match")
    restart("ledger")
    assert asyncio.run(admin.rebuild()) == 0
    assert balance(http, user) == (0, False) and user not in leaders(http)
    assert asyncio.run(admin.verify()) == 0
    assert not held_by_redis(user)
    assert http.post("ingest", "/v1/posts", {"post_id": f"{run_id}:later", "author_id": other, "tags": [tag],
                     "text": "Rye bread help, please?"})[0] == 202
    assert user not in [c["helper_id"] for c in first_wave(f"{run_id}:later")["candidates"]]


def test_the_raw_topics_keep_no_text_after_ingest_has_validated_it(run_id):
    from services.ingest.app import TRUNCATE_RAW_EVERY_S
    from tests.integration.conftest import produce_raw
    secret = f"a raw secret {run_id}"
    produce_raw("posts.raw.v1", [orjson.dumps({"post_id": f"{run_id}:raw", "author_id": f"{run_id}-raw", "text": secret})])
    wait_for(lambda: read_topic("posts.v1", lambda r: r["post_id"] == f"{run_id}:raw"), what="the raw post validated")
    wait_for(lambda: not read_topic("posts.raw.v1", lambda r: r.get("post_id") == f"{run_id}:raw"),
             timeout=3 * TRUNCATE_RAW_EVERY_S, interval=2, what="the raw record deleted once consumed")
    (validated,) = read_topic("posts.v1", lambda r: r["post_id"] == f"{run_id}:raw")
    assert secret not in validated["text"]  # sealed
