"""Match's Redis state: each post's latest Match, the asks (who was asked, in which wave, why),
the helpers' inboxes, and the wave timers. docs/redis.md lists the keys.

The timers are a sorted set of post ids by due time, shared by every match worker. A worker
claims the due posts with a lease (their due time moves `lease` seconds on), sends the wave,
then stores it, which sets the next due time. A worker killed in between leaves the lease to
run out, and the next claim finds the records it had set aside under `sending` and sends the
very same ones again (same notification ids): a due wave is never lost, and a repeat is
byte-identical, for consumers to dedupe by notification_id.
"""
from __future__ import annotations

from typing import Any, Optional

import orjson

from services.core.contracts import dumps

DUE_KEY = "match:waves:due"   # zset: post id -> when its next step is due (epoch s)
INBOX_LIMIT = 100             # asks an inbox keeps (the newest)
VIEW_TTL_S = 30 * 86400       # how long GET /v1/posts/{id}/matches answers


def inbox_key(helper_id: str) -> str:
    return f"match:inbox:{helper_id}"   # zset: post id -> when asked


def match_key(post_id: str) -> str:
    return f"match:post:{post_id}"      # the post's latest Match (JSON)


def asks_key(post_id: str) -> str:
    return f"match:asks:{post_id}"      # hash: helper id -> {wave, score, reasons, asked_at}


def wave_key(post_id: str) -> str:
    return f"match:wave:{post_id}"      # hash: post, created, wave, replace, next_at, sending, declined:<id>


def withdrawn_key(post_id: str) -> str:
    return f"match:withdrawn:{post_id}"  # string: flags withdrew the post from routing


def flags_key(post_id: str) -> str:
    return f"match:flags:{post_id}"      # set: the users who flagged the post


def erasing_key(token: str) -> str:
    return f"match:erasing:{token}"      # string: one worker is taking an erased user out of the views


def ask_detail(wave: int, score: float, reasons: list[str], asked_at: str) -> str:
    return dumps({"wave": wave, "score": score, "reasons": reasons, "asked_at": asked_at}).decode()


# Stores sent waves. ARGV[1..5]: now, view TTL, ask TTL, wave-state TTL, inbox size; then for
# each wave WAVE_FIELDS values (post id, Match JSON, wave, first (1: the post's first wave),
# post JSON, created, next_at (-1: none), replacements it stood for, n asks) and n pairs
# (helper, ask detail). Flat arguments, not one JSON document: decoding JSON inside JSON cost
# the script more than all its writes. A later wave of a post that ended meanwhile (answered,
# done, withdrawn) is not stored.
WAVE_FIELDS = 9
STORE_WAVES_LUA = """
local now, view_ttl, ask_ttl, wave_ttl, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local stored, i = 0, 6
while i <= #ARGV do
  local id, match, wave, first, post, created = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local next_at, replaced, n = tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])
  local asks_at = i + 9
  i = asks_at + 2 * n
  local state = 'match:wave:' .. id
  local left = 0
  local go = first == '1' and redis.call('EXISTS', 'match:withdrawn:' .. id) == 0
  if go then  -- a new post: one write of its whole state
    if next_at >= 0 then
      redis.call('HSET', state, 'post', post, 'created', created, 'replace', 0, 'wave', wave, 'next_at', next_at)
    else
      redis.call('HSET', state, 'post', post, 'created', created, 'replace', 0, 'wave', wave)
    end
  elseif redis.call('EXISTS', state) == 1 then
    go = true
    left = tonumber(redis.call('HGET', state, 'replace') or '0') - replaced
    if left < 0 then left = 0 end
    redis.call('HSET', state, 'wave', wave, 'replace', left)
    redis.call('HDEL', state, 'sending')
    if next_at >= 0 then redis.call('HSET', state, 'next_at', next_at) else redis.call('HDEL', state, 'next_at') end
  end
  if go then
    stored = stored + 1
    redis.call('EXPIRE', state, wave_ttl)
    if left > 0 then
      redis.call('ZADD', 'match:waves:due', now, id)
    elseif next_at >= 0 then
      redis.call('ZADD', 'match:waves:due', next_at, id)
    else
      redis.call('ZREM', 'match:waves:due', id)
    end
    redis.call('SET', 'match:post:' .. id, match, 'EX', view_ttl)
    if n > 0 then
      local asks = 'match:asks:' .. id
      redis.call('HSET', asks, unpack(ARGV, asks_at, asks_at + 2 * n - 1))
      redis.call('EXPIRE', asks, ask_ttl)
      for j = asks_at, asks_at + 2 * n - 1, 2 do
        local inbox = 'match:inbox:' .. ARGV[j]
        redis.call('ZADD', inbox, now, id)
        redis.call('ZREMRANGEBYRANK', inbox, 0, -keep - 1)
      end
    end
  end
end
return stored
"""


def store_args(waves: list[list[Any]]) -> list[Any]:
    """The flat ARGV tail of STORE_WAVES_LUA for `waves`, each [post id, match, wave, first,
    post, created, next_at, replaced, [[helper, detail], ...]]."""
    out: list[Any] = []
    for *head, pairs in waves:
        out.extend(head)
        out.append(len(pairs))
        for helper, detail in pairs:
            out.extend((helper, detail))
    return out


# Claims the due posts. ARGV: now, lease (s), most posts. Returns, for each claimed post,
# [post id, post JSON, waves sent, replacements due, next_at or '', sending or '', [asked ids]].
CLAIM_WAVES_LUA = """
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'match:waves:due', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))) do
  local state = 'match:wave:' .. id
  local s = redis.call('HMGET', state, 'post', 'wave', 'replace', 'next_at', 'sending')
  if s[1] then
    redis.call('ZADD', 'match:waves:due', now + lease, id)
    table.insert(out, {id, s[1], s[2] or '0', s[3] or '0', s[4] or '', s[5] or '',
                       redis.call('HKEYS', 'match:asks:' .. id)})
  else
    redis.call('ZREM', 'match:waves:due', id)
  end
end
return out
"""

# Ends posts for everyone: out of every asked helper's inbox, no further wave. ARGV[1]: JSON
# [[post id, replier or '']]. Returns, for each, '' when its waves were over already, else
# "<asked>|<created>": asked is 1 when the replier was asked, created the post's epoch time.
END_POSTS_LUA = """
local out = {}
for _, e in ipairs(cjson.decode(ARGV[1])) do
  local id, replier = e[1], e[2]
  local state, asks = 'match:wave:' .. id, 'match:asks:' .. id
  local created = redis.call('HGET', state, 'created')
  local result = ''
  if created then
    result = (redis.call('HEXISTS', asks, replier) == 1 and '1' or '0') .. '|' .. created
  end
  for _, helper in ipairs(redis.call('HKEYS', asks)) do
    redis.call('ZREM', 'match:inbox:' .. helper, id)
  end
  redis.call('DEL', state, asks)
  redis.call('ZREM', 'match:waves:due', id)
  table.insert(out, result)
end
return out
"""

# Declines: the ask leaves the helper's inbox and, the first time that helper declines that
# post, one replacement is due at once. ARGV[1]: JSON [[post id, helper]]; ARGV[2]: now.
# Returns how many replacements were scheduled (the same decline seen by several workers: one).
DECLINE_LUA = """
local n = 0
for _, d in ipairs(cjson.decode(ARGV[1])) do
  local id, helper = d[1], d[2]
  local state = 'match:wave:' .. id
  redis.call('ZREM', 'match:inbox:' .. helper, id)
  if redis.call('HEXISTS', 'match:asks:' .. id, helper) == 1 and redis.call('EXISTS', state) == 1
     and redis.call('HSETNX', state, 'declined:' .. helper, 1) == 1 then
    redis.call('HINCRBY', state, 'replace', 1)
    redis.call('ZADD', 'match:waves:due', ARGV[2], id)
    n = n + 1
  end
end
return n
"""


# Sets a wave's records aside before they are sent, unless the post ended meanwhile.
# ARGV[1]: JSON [[post id, JSON of {records, stored}]].
SET_SENDING_LUA = """
for _, w in ipairs(cjson.decode(ARGV[1])) do
  local state = 'match:wave:' .. w[1]
  if redis.call('EXISTS', state) == 1 then redis.call('HSET', state, 'sending', w[2]) end
end
return 1
"""


# Flags. ARGV[1]: JSON [[post id, flagger]]; ARGV[2]: distinct flaggers that withdraw a post;
# ARGV[3]: how long flags and the withdrawal are kept. Returns the posts withdrawn by these
# flags (each once, whichever worker sees the deciding flag first).
FLAG_LUA = """
local out = {}
local need = tonumber(ARGV[2])
for _, f in ipairs(cjson.decode(ARGV[1])) do
  local flags = 'match:flags:' .. f[1]
  redis.call('SADD', flags, f[2])
  redis.call('EXPIRE', flags, ARGV[3])
  if redis.call('SCARD', flags) >= need
     and redis.call('SET', 'match:withdrawn:' .. f[1], 1, 'NX', 'EX', ARGV[3]) then
    table.insert(out, f[1])
  end
end
return out
"""


class Claimed:
    """One post claimed for its next step (decoded from CLAIM_WAVES_LUA)."""

    __slots__ = ("post_id", "post", "waves_sent", "replacements", "next_at", "sending", "asked")

    def __init__(self, row: list[Any]) -> None:
        text = [v.decode() if isinstance(v, bytes) else v for v in row[:6]]
        self.post_id: str = text[0]
        self.post: dict = orjson.loads(text[1])
        self.waves_sent = int(text[2])
        self.replacements = int(text[3])
        self.next_at: Optional[float] = float(text[4]) if text[4] else None
        self.sending: Optional[dict] = orjson.loads(text[5]) if text[5] else None
        self.asked: set[str] = {h.decode() if isinstance(h, bytes) else h for h in row[6]}
