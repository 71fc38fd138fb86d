"""Redis-backed guards of the ingest: idempotency keys and token-bucket rate limits.
Atomic in Redis (SET NX, a Lua script), so several ingest workers share them."""
from __future__ import annotations

import time

import redis.asyncio as aioredis

# Token buckets, all or nothing: KEYS are the buckets, ARGV[1] now (s), ARGV[2] cost, then a
# rate (tokens/s) per key. Burst = 5 s of rate. Returns {allowed, index of the refusing bucket
# (1-based, 0 if allowed), ms until it has the tokens}.
TOKEN_BUCKETS = """
local now = tonumber(ARGV[1]); local cost = tonumber(ARGV[2])
local tokens = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 + i]); local burst = math.max(rate * 5, cost)
  local b = redis.call('HMGET', key, 't', 'ts')
  local t = math.min(burst, (tonumber(b[1]) or burst) + (now - (tonumber(b[2]) or now)) * rate)
  if t < cost then return {0, i, math.ceil((cost - t) / rate * 1000)} end
  tokens[i] = t
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 + i])
  redis.call('HSET', key, 't', tokens[i] - cost, 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(math.max(rate * 5, cost) / rate * 1000) + 1000)
end
return {1, 0, 0}
"""


PENDING = "pending:"
PENDING_TTL_S = 10  # longer than the ingest's send timeout (3 s): a live writer confirms first


class Guards:
    def __init__(self, redis: aioredis.Redis, window_s: int):
        self.redis = redis
        self.window_s = window_s
        self._bucket = redis.register_script(TOKEN_BUCKETS)

    async def claim(self, kind: str, claims: list[tuple[str, str]]) -> list[str | None]:
        """Claims idempotency keys, each (key, record id), as *pending* for a short while. Returns,
        per claim, None where the key is new, else what the key holds: the record id of a
        confirmed write, or PENDING + id while another request is still writing it.
        A pending claim expires by itself, so a writer killed before Kafka's ack (which can
        neither confirm nor release) does not turn the client's retry into a false duplicate."""
        if not claims:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, record_id in claims:
                pipe.set(f"idem:{kind}:{key}", PENDING + record_id, nx=True, ex=PENDING_TTL_S, get=True)
            return [r.decode() if r is not None else None for r in await pipe.execute()]

    async def confirm(self, kind: str, claims: list[tuple[str, str]]) -> None:
        """Kafka acknowledged these writes: their keys now answer 'duplicate' for the window."""
        if claims:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, record_id in claims:
                    pipe.set(f"idem:{kind}:{key}", record_id, ex=self.window_s)
                await pipe.execute()

    async def release(self, kind: str, keys: list[str]) -> None:
        """Forgets claims whose write failed, so that a retry is not taken for a repeat."""
        if keys:
            await self.redis.delete(*[f"idem:{kind}:{k}" for k in keys])

    async def allow(self, buckets: list[tuple[str, float]], cost: int = 1) -> tuple[bool, str, float]:
        """Takes `cost` tokens from every (bucket, rate/s) or from none; returns (allowed,
        the refusing bucket, seconds until it would allow)."""
        keys = [f"rate:{name}" for name, _ in buckets]
        allowed, index, wait_ms = await self._bucket(keys=keys, args=[time.time(), cost, *[r for _, r in buckets]])
        refused = buckets[int(index) - 1][0] if not allowed else ""
        return bool(allowed), refused, int(wait_ms) / 1000.0
