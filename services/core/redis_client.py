"""The services' Redis client: one Redis, or a Redis Cluster (GOALPOST_REDIS_CLUSTER). Every
key carries its service's hash tag (`{ingest}:`, `{privacy}:`, `{classify}:`, `{match}:`,
`{ledger}:`), so each script's and pipeline's keys hash to one slot: docs/redis.md."""
from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from services.core.settings import Settings

# Keys renamed to carry their hash tag, (old name, new name): a single Redis that holds the old
# name gets it renamed at a service's start. A cluster never held the old names.
RENAMED = (("privacy:keys", "{privacy}:keys"), ("privacy:erased", "{privacy}:erased"))


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
    """Renames the keys of RENAMED that still have their old name; returns the new names given."""
    if cluster:
        return []
    renamed = []
    for old, new in RENAMED:
        try:
            if await redis.renamenx(old, new):
                renamed.append(new)
        except ResponseError:  # no such key: nothing to rename (or another service did it first)
            pass
    return renamed
