"""Redis-backed guards of the ingest: idempotency keys and token-bucket rate limits.
Atomic in Redis (SET NX, a Lua script), so several ingest workers share them."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import redis.asyncio as aioredis

from services.core.coalesce import Coalescer

# Admission of several requests in one call (see Guards.admit): each request's token buckets,
# then, if it was allowed, its idempotency claims. ARGV[1] is now (s) and ARGV[2] the pending
# claims' TTL (s); then per request: its bucket count n, its cost, its claim count c, n rates
# (tokens/s) and c claim values. KEYS are, per request, its n buckets then its c claim keys.
# A request takes its cost from all of its buckets or from none; burst = 5 s of rate. Returns
# per request {allowed, index of the refusing bucket (1-based, 0 if allowed), ms until it has
# the tokens, then per claim what the key held before ('' if it was free, and for a refused
# request, which claims nothing)}. Requests sharing a bucket (one API key) see each other's
# takes, in order.
#
# The buckets' writes are kept out of the AOF (and replicas): a bucket is seconds of state that
# may reset to full after a Redis restart, and at 1,000 single posts/s their HSET/PEXPIRE
# fill the AOF so fast that Redis rewrites it every few minutes; the requests during each
# ~1 s rewrite take ~100 ms, which alone sets the ingest's p99 (docs/benchmarks.md). Idempotency
# claims are propagated.
ADMIT = """
local now = tonumber(ARGV[1])
local ttl = ARGV[2]
local out = {}
local a, k = 3, 1
while a <= #ARGV do
  local n = tonumber(ARGV[a]); local cost = tonumber(ARGV[a + 1]); local c = tonumber(ARGV[a + 2])
  local tokens = {}; local refused = 0; local wait = 0
  for i = 1, n do
    local rate = tonumber(ARGV[a + 2 + i]); local burst = math.max(rate * 5, cost)
    local b = redis.call('HMGET', KEYS[k + i - 1], 't', 'ts')
    local t = math.min(burst, (tonumber(b[1]) or burst) + (now - (tonumber(b[2]) or now)) * rate)
    if t < cost then refused = i; wait = math.ceil((cost - t) / rate * 1000); break end
    tokens[i] = t
  end
  if refused == 0 then
    redis.set_repl(redis.REPL_NONE)
    for i = 1, n do
      local rate = tonumber(ARGV[a + 2 + i])
      redis.call('HSET', KEYS[k + i - 1], 't', tokens[i] - cost, 'ts', now)
      redis.call('PEXPIRE', KEYS[k + i - 1], math.ceil(math.max(rate * 5, cost) / rate * 1000) + 1000)
    end
    redis.set_repl(redis.REPL_ALL)
  end
  out[#out + 1] = refused == 0 and 1 or 0
  out[#out + 1] = refused
  out[#out + 1] = wait
  for j = 1, c do
    local held = false
    if refused == 0 then
      held = redis.call('SET', KEYS[k + n + j - 1], ARGV[a + 2 + n + j], 'NX', 'GET', 'EX', ttl)
    end
    out[#out + 1] = held or ''
  end
  a = a + 3 + n + c; k = k + n + c
end
return out
"""


@dataclass(frozen=True)
class Admission:
    allowed: bool
    refused: str                   # the bucket that refused, when not allowed
    wait_s: float                  # until that bucket would allow
    previous: list[Optional[str]]  # per claim, as Guards.claim returns (empty when not allowed)


TAG = "{ingest}"  # the hash tag of every ingest key: one admission call touches several


def _idem_key(kind: str, key: str) -> str:
    return f"{TAG}:idem:{kind}:{key}"


def rate_key(bucket: str) -> str:
    return f"{TAG}:rate:{bucket}"


PENDING = "pending:"
PENDING_TTL_S = 10  # longer than the ingest's send timeout (3 s): a live writer confirms first


class Guards:
    """Every call is coalesced with the concurrent calls of other requests (services/core/
    coalesce.py): under load one Redis round trip serves many requests."""

    def __init__(self, redis: aioredis.Redis, window_s: int):
        self.redis = redis
        self.window_s = window_s
        self._admit_script = redis.register_script(ADMIT)
        self._admit = Coalescer(self._admit_many)
        self._claim = Coalescer(self._claim_many)
        self._confirm = Coalescer(self._confirm_many)

    async def claim(self, kind: str, claims: list[tuple[str, str]]) -> list[str | None]:
        """Claims idempotency keys, each (key, record id), as *pending* for a short while. Returns,
        per claim, None where the key is new, else what the key holds: the record id of a
        confirmed write, or PENDING + id while another request is still writing it.
        A pending claim expires by itself, so a writer killed before Kafka's ack (which can
        neither confirm nor release) does not turn the client's retry into a false duplicate."""
        if not claims:
            return []
        return await self._claim.submit((kind, claims))

    async def _claim_many(self, calls: list[tuple[str, list[tuple[str, str]]]]) -> list[list[str | None]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for kind, claims in calls:
                for key, record_id in claims:
                    pipe.set(_idem_key(kind, key), PENDING + record_id, nx=True, ex=PENDING_TTL_S, get=True)
            replies = iter(await pipe.execute())
        out = []
        for _, claims in calls:
            held = [next(replies) for _ in claims]
            out.append([r.decode() if r is not None else None for r in held])
        return out

    async def confirm(self, kind: str, claims: list[tuple[str, str]]) -> None:
        """Kafka acknowledged these writes: their keys now answer 'duplicate' for the window."""
        if claims:
            await self._confirm.submit((kind, claims))

    async def _confirm_many(self, calls: list[tuple[str, list[tuple[str, str]]]]) -> list[None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for kind, claims in calls:
                for key, record_id in claims:
                    pipe.set(_idem_key(kind, key), record_id, ex=self.window_s)
            await pipe.execute()
        return [None] * len(calls)

    async def release(self, kind: str, keys: list[str]) -> None:
        """Forgets claims whose write failed, so that a retry is not taken for a repeat."""
        if keys:
            await self.redis.delete(*[_idem_key(kind, k) for k in keys])

    async def admit(self, buckets: list[tuple[str, float]], cost: int, kind: str,
                    claims: list[tuple[str, str]]) -> Admission:
        """Takes `cost` tokens from every (bucket, rate/s) or from none and, if they were taken,
        claims the idempotency keys as `claim` does; one round trip for both, shared with the
        concurrent requests (the two calls were two of a single post's three Redis trips)."""
        return await self._admit.submit((buckets, cost, kind, claims))

    async def _admit_many(self, calls: list[tuple[list[tuple[str, float]], int, str, list[tuple[str, str]]]]
                          ) -> list[Admission]:
        keys: list[str] = []
        args: list[Any] = [time.time(), PENDING_TTL_S]
        for buckets, cost, kind, claims in calls:
            keys.extend(rate_key(name) for name, _ in buckets)
            keys.extend(_idem_key(kind, key) for key, _ in claims)
            args.extend((len(buckets), cost, len(claims), *[rate for _, rate in buckets],
                         *[PENDING + record_id for _, record_id in claims]))
        flat = iter(await self._admit_script(keys=keys, args=args))
        out = []
        for buckets, _, _, claims in calls:
            allowed, index, wait_ms = int(next(flat)), int(next(flat)), int(next(flat))
            held = [next(flat) for _ in claims]
            out.append(Admission(allowed=bool(allowed), refused=buckets[index - 1][0] if not allowed else "",
                                 wait_s=wait_ms / 1000.0,
                                 previous=[h.decode() if h else None for h in held] if allowed else []))
        return out
