"""The move to the tagged key layout (services/core/redis_client.py) on the real Redis: the text
keys are renamed with their values and the old derived keys dropped, once; the services' own
text keys are under the new names."""
import asyncio

import redis
import redis.asyncio as aioredis

from services.core.privacy import ERASED, KEYS
from services.core.redis_client import RENAMED, rename_legacy_keys
from services.core.settings import env

SCRATCH_DB = 15  # the stack's data is in db 0


def test_the_old_names_are_renamed_with_their_values_and_only_once():
    url = env("GOALPOST_REDIS_URL").rsplit("/", 1)[0] + f"/{SCRATCH_DB}"
    sync = redis.Redis.from_url(url)
    sync.flushdb()
    sync.hset("privacy:keys", "alice", b"k" * 32)
    sync.sadd("privacy:erased", "token-of-bob")
    sync.set("match:post:p1", "{}")
    sync.zadd("match:inbox:bob", {"p1": 1.0})
    sync.hset("ledger:balance", "alice", 5)
    sync.set("{match}:post:p2", "{}")  # the new layout's: kept

    async def rename() -> list[str]:
        client = aioredis.Redis.from_url(url)
        try:
            return await rename_legacy_keys(client, cluster=False)
        finally:
            await client.aclose()
    assert asyncio.run(rename()) == [new for _, new in RENAMED]
    assert sync.hget(KEYS, "alice") == b"k" * 32 and sync.sismember(ERASED, "token-of-bob")
    assert not sync.exists("privacy:keys", "privacy:erased")
    assert not sync.exists("match:post:p1", "match:inbox:bob", "ledger:balance")  # derived: written afresh
    assert sync.exists("{match}:post:p2")
    sync.hset("privacy:keys", "carol", b"c" * 32)  # an old writer after the move: left alone, moved once
    assert asyncio.run(rename()) == []
    assert sync.exists("privacy:keys")
    sync.flushdb()


def test_the_services_keep_text_keys_under_the_tagged_names(http, run_id):
    author = f"{run_id}:tagged"
    assert http.post("ingest", "/v1/posts", {"author_id": author, "text": "where is my key kept?"})[0] == 202
    r = redis.Redis.from_url(env("GOALPOST_REDIS_URL"))
    assert r.hexists(KEYS, author)
    assert not r.exists("privacy:keys")
