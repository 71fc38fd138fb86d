"""Redis-backed guards of the ingest: idempotency keys and token-bucket rate limits.
Atomic in Redis (SET NX, a Lua script), so several ingest workers share them."""
from __future__ import annotations

import time

import redis.asyncio as aioredis

# KEYS[1] bucket; ARGV rate/s, burst, now (s), cost. Returns {allowed, retry_after_ms}.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1]); local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3]); local cost = tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1]) or burst; local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate)
local allowed = 0; local wait_ms = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1
else wait_ms = math.ceil((cost - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, wait_ms}
"""


class Guards:
    def __init__(self, redis: aioredis.Redis, window_s: int):
        self.redis = redis
        self.window_s = window_s
        self._bucket = redis.register_script(TOKEN_BUCKET)

    async def claim(self, kind: str, claims: list[tuple[str, str]]) -> list[str | None]:
        """Claims idempotency keys, each (key, record id). Returns, per claim, None where the key
        is new within the window, else the record id stored by the first claim."""
        if not claims:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, record_id in claims:
                pipe.set(f"idem:{kind}:{key}", record_id, nx=True, ex=self.window_s, get=True)
            return [r.decode() if r is not None else None for r in await pipe.execute()]

    async def release(self, kind: str, ids: list[str]) -> None:
        """Forgets claims whose write failed, so that a retry is not taken for a duplicate."""
        if ids:
            await self.redis.delete(*[f"idem:{kind}:{i}" for i in ids])

    async def allow(self, bucket: str, rate: float, cost: int = 1) -> tuple[bool, float]:
        """Token bucket (burst = 5 s of rate); returns (allowed, seconds to wait)."""
        burst = max(rate * 5, cost)
        allowed, wait_ms = await self._bucket(keys=[f"rate:{bucket}"], args=[rate, burst, time.time(), cost])
        return bool(allowed), int(wait_ms) / 1000.0
