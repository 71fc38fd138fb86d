"""The services' Redis client: one Redis, or a Redis Cluster (GOALPOST_REDIS_CLUSTER). Every
key carries its service's hash tag (`{ingest}:`, `{privacy}:`, `{classify}:`, `{match}:`,
`{ledger}:`), so each script's and pipeline's keys hash to one slot: docs/redis.md."""
from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from services.core.settings import Settings

# The key layout with hash tags. On a single Redis that held the layout before it, the first
# service to start renames the keys that are a source of truth, (old name, new name), and
# deletes the old derived and short-lived ones, which the services write afresh under their
# new names (docs/redis.md, "Upgrading"). A cluster never held the old names.
LAYOUT_KEY = "{goalpost}:layout"
LAYOUT = b"tagged-1"
RENAMED = (("privacy:keys", "{privacy}:keys"), ("privacy:erased", "{privacy}:erased"))
DROPPED = ("match:*", "ledger:*", "done:classified:*", "idem:*", "rate:*")


def connect(settings: Settings, max_connections: int = 64) -> Any:
    """A client for the settings' Redis; it connects on first use."""
    if settings.redis_cluster:
        return RedisCluster.from_url(settings.redis_url, max_connections=max_connections, socket_timeout=5,
                                     socket_connect_timeout=2)
    # A blocking pool: under load requests wait for a connection instead of failing.
    pool = aioredis.BlockingConnectionPool.from_url(settings.redis_url, max_connections=max_connections, timeout=5,
                                                    socket_timeout=5, socket_connect_timeout=2)
    return aioredis.Redis(connection_pool=pool)


async def rename_legacy_keys(redis: Any, cluster: bool) -> list[str]:
    """Moves a single Redis to the tagged layout once (LAYOUT_KEY says it is done); returns the
    new names of the keys it renamed."""
    if cluster or await redis.get(LAYOUT_KEY) == LAYOUT:
        return []
    renamed = []
    for old, new in RENAMED:
        try:
            if await redis.renamenx(old, new):
                renamed.append(new)
        except ResponseError:  # no such key: nothing to rename (or another service did it first)
            pass
    for pattern in DROPPED:
        old_keys = [key async for key in redis.scan_iter(match=pattern, count=1000)]
        for i in range(0, len(old_keys), 1000):
            await redis.unlink(*old_keys[i:i + 1000])
    await redis.set(LAYOUT_KEY, LAYOUT)
    return renamed
