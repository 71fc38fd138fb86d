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

from typing import Any, Optional, Sequence

import orjson

from services.core.contracts import dumps

# One hash tag for every match key: a script or pipeline may touch any of them together on a
# Redis Cluster, at the cost of all of match's keys living on one master (docs/redis.md).
TAG = "{match}"
DUE_KEY = f"{TAG}:waves:due"   # zset: post id -> when its next step is due (epoch s)
INBOX_LIMIT = 100             # asks an inbox keeps (the newest)
VIEW_TTL_S = 30 * 86400       # how long GET /v1/posts/{id}/matches answers


def inbox_key(helper_id: str) -> str:
    return f"{TAG}:inbox:{helper_id}"   # zset: post id -> when asked


def match_key(post_id: str) -> str:
    return f"{TAG}:post:{post_id}"      # the post's latest Match (JSON)


def asks_key(post_id: str) -> str:
    return f"{TAG}:asks:{post_id}"      # hash: helper id -> {wave, score, reasons, asked_at}


def wave_key(post_id: str) -> str:
    return f"{TAG}:wave:{post_id}"      # hash: post, created, wave, replace, next_at, sending, declined:<id>


def withdrawn_key(post_id: str) -> str:
    return f"{TAG}:withdrawn:{post_id}"  # string: flags withdrew the post from routing


def flags_key(post_id: str) -> str:
    return f"{TAG}:flags:{post_id}"      # set: the users who flagged the post


def erasing_key(token: str) -> str:
    return f"{TAG}:erasing:{token}"      # string: one worker is taking an erased user out of the views


# SCAN patterns of the per-post keys erasure walks ('*' is the only glob character in them).
ASKS_PATTERN, FLAGS_PATTERN, MATCHES_PATTERN = asks_key("*"), flags_key("*"), match_key("*")

# Every script below touches only the keys it is given in KEYS (Redis Cluster requires it); the
# *_call functions build KEYS and ARGV together, in the order the script reads them.
Call = tuple[list[str], list[Any]]


def ask_detail(wave: int, score: float, reasons: list[str], asked_at: str) -> str:
    return dumps({"wave": wave, "score": score, "reasons": reasons, "asked_at": asked_at}).decode()


# Stores sent waves. KEYS[1]: the due set; then for each wave its state, withdrawn mark, match
# view, asks and the inbox of each of its n helpers (4 + n keys). ARGV[1..5]: now, view TTL, ask
# TTL, wave-state TTL, inbox size; then for each wave WAVE_FIELDS values (post id, Match JSON,
# wave, first (1: the post's first wave), post JSON, created, next_at (-1: none), replacements it
# stood for, n asks) and n pairs (helper, ask detail). Flat arguments, not one JSON document:
# decoding JSON inside JSON cost the script more than all its writes. A later wave of a post that
# ended meanwhile (answered, done, withdrawn) is not stored.
WAVE_FIELDS = 9
STORE_WAVES_LUA = """
local now, view_ttl, ask_ttl, wave_ttl, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local due = KEYS[1]
local stored, i, k = 0, 6, 2
while i <= #ARGV do
  local id, match, wave, first, post, created = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local next_at, replaced, n = tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])
  local state, withdrawn, view, asks = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local asks_at, inboxes_at = i + 9, k + 4
  i, k = asks_at + 2 * n, inboxes_at + n
  local left = 0
  local go = first == '1' and redis.call('EXISTS', withdrawn) == 0
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
      redis.call('ZADD', due, now, id)
    elseif next_at >= 0 then
      redis.call('ZADD', due, next_at, id)
    else
      redis.call('ZREM', due, id)
    end
    redis.call('SET', view, match, 'EX', view_ttl)
    if n > 0 then
      redis.call('HSET', asks, unpack(ARGV, asks_at, asks_at + 2 * n - 1))
      redis.call('EXPIRE', asks, ask_ttl)
      for j = inboxes_at, inboxes_at + n - 1 do
        redis.call('ZADD', KEYS[j], now, id)
        redis.call('ZREMRANGEBYRANK', KEYS[j], 0, -keep - 1)
      end
    end
  end
end
return stored
"""


def store_call(waves: list[list[Any]]) -> Call:
    """KEYS and the ARGV tail (after the five leading values) of STORE_WAVES_LUA for `waves`,
    each [post id, match, wave, first, post, created, next_at, replaced, [[helper, detail], ...]]."""
    keys: list[str] = [DUE_KEY]
    args: list[Any] = []
    for *head, pairs in waves:
        post_id = head[0]
        keys.extend((wave_key(post_id), withdrawn_key(post_id), match_key(post_id), asks_key(post_id)))
        keys.extend(inbox_key(helper) for helper, _ in pairs)
        args.extend(head)
        args.append(len(pairs))
        for helper, detail in pairs:
            args.extend((helper, detail))
    return keys, args


# Claims due posts, read beforehand from the due set (ZRANGEBYSCORE, claim_read). KEYS[1]: the due
# set; then each post's state and asks (2 keys a post). ARGV: now, lease (s), then the post ids.
# A post is leased only if its due time is still <= now: since the read another worker may have
# leased it, or a stored wave moved it on, or an end removed it. Returns, for each claimed post,
# [post id, post JSON, waves sent, replacements due, next_at or '', sending or '', [asked ids]].
CLAIM_WAVES_LUA = """
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = KEYS[1]
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local state, asks = KEYS[2 * i - 4], KEYS[2 * i - 3]
  local score = redis.call('ZSCORE', due, id)
  if score and tonumber(score) <= now then
    local s = redis.call('HMGET', state, 'post', 'wave', 'replace', 'next_at', 'sending')
    if s[1] then
      redis.call('ZADD', due, now + lease, id)
      table.insert(out, {id, s[1], s[2] or '0', s[3] or '0', s[4] or '', s[5] or '', redis.call('HKEYS', asks)})
    else
      redis.call('ZREM', due, id)
    end
  end
end
return out
"""


def claim_call(post_ids: list[str], now: float, lease: float) -> Call:
    keys = [DUE_KEY]
    for post_id in post_ids:
        keys.extend((wave_key(post_id), asks_key(post_id)))
    return keys, [now, lease, *post_ids]


# Ends posts for everyone: out of every asked helper's inbox, no further wave, and for a dropped
# post its match view gone. The helpers asked are read beforehand (HKEYS of each post's asks).
# KEYS[1]: the due set; then for each post its state, asks, match view and the inboxes of its n
# helpers read (3 + n keys). ARGV: for each post its id, replier or '', drop (1: delete the view),
# n, then the n helpers. Returns, for each post, [result, [helpers asked since the read]]: result
# is '' when its waves were over already, else "<asked>|<created>" (asked: 1 when the replier was
# asked; created: the post's epoch time). A wave stored between the read and this script adds
# helpers whose inboxes are not in KEYS: the caller takes the post out of those. Once this ran the
# post's state is gone, so no later wave of it is stored and that second pass is the last.
END_POSTS_LUA = """
local due = KEYS[1]
local out = {}
local i, k = 1, 2
while i <= #ARGV do
  local id, replier, drop, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local state, asks, view = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local read = {}
  for j = 0, n - 1 do
    read[ARGV[i + 4 + j]] = true
    redis.call('ZREM', KEYS[k + 3 + j], id)
  end
  i, k = i + 4 + n, k + 3 + n
  local created = redis.call('HGET', state, 'created')
  local result = ''
  if created then
    result = (redis.call('HEXISTS', asks, replier) == 1 and '1' or '0') .. '|' .. created
  end
  local since = {}
  for _, helper in ipairs(redis.call('HKEYS', asks)) do
    if not read[helper] then table.insert(since, helper) end
  end
  redis.call('DEL', state, asks)
  if drop == '1' then redis.call('DEL', view) end
  redis.call('ZREM', due, id)
  table.insert(out, {result, since})
end
return out
"""


def end_call(posts: list[tuple[str, str, bool, list[str]]]) -> Call:
    """KEYS and ARGV of END_POSTS_LUA for `posts`, each (post id, replier or '', drop the view,
    the helpers its asks held when read)."""
    keys = [DUE_KEY]
    args: list[Any] = []
    for post_id, replier, drop, helpers in posts:
        keys.extend((wave_key(post_id), asks_key(post_id), match_key(post_id)))
        keys.extend(inbox_key(h) for h in helpers)
        args.extend((post_id, replier, 1 if drop else 0, len(helpers), *helpers))
    return keys, args


# The followed events' removals in one call: a pipeline of one command per ask costs match more
# to pack and parse than Redis takes to run them. KEYS[1]: the due set; then the inbox of each
# closed ask, then the state of each post with no further wave. ARGV[1]: how many asks close;
# then, by the same index as KEYS, the closed asks' post ids and the finished post ids.
CLOSE_ASKS_LUA = """
local closing = tonumber(ARGV[1])
for i = 2, closing + 1 do redis.call('ZREM', KEYS[i], ARGV[i]) end
for i = closing + 2, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('DEL', KEYS[i])
end
return #ARGV - 1
"""


def close_call(closed: list[tuple[str, str]], done: Sequence[str]) -> Call:
    """KEYS and ARGV of CLOSE_ASKS_LUA: the asks `closed`, each (helper, post), and the posts
    `done` (no further wave)."""
    keys = [DUE_KEY, *(inbox_key(h) for h, _ in closed), *(wave_key(p) for p in done)]
    return keys, [len(closed), *(p for _, p in closed), *done]


# The helpers asked for each post, in one call. KEYS: each post's asks.
ASKED_LUA = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HKEYS', key) end
return out
"""


def asked_call(post_ids: list[str]) -> Call:
    return [asks_key(p) for p in post_ids], []


# Declines: the ask leaves the helper's inbox and, the first time that helper declines that
# post, one replacement is due at once. KEYS[1]: the due set; then for each decline the helper's
# inbox, the post's asks and its state (3 keys a decline). ARGV[1]: now; then for each decline
# the post id and the helper. Returns how many replacements were scheduled (the same decline
# seen by several workers: one).
DECLINE_LUA = """
local due = KEYS[1]
local n, k = 0, 2
for i = 2, #ARGV, 2 do
  local id, helper = ARGV[i], ARGV[i + 1]
  local inbox, asks, state = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  k = k + 3
  redis.call('ZREM', inbox, id)
  if redis.call('HEXISTS', asks, helper) == 1 and redis.call('EXISTS', state) == 1
     and redis.call('HSETNX', state, 'declined:' .. helper, 1) == 1 then
    redis.call('HINCRBY', state, 'replace', 1)
    redis.call('ZADD', due, ARGV[1], id)
    n = n + 1
  end
end
return n
"""


def decline_call(declines: list[tuple[str, str]], now: float) -> Call:
    """`declines`: (post id, helper)."""
    keys = [DUE_KEY]
    args: list[Any] = [now]
    for post_id, helper in declines:
        keys.extend((inbox_key(helper), asks_key(post_id), wave_key(post_id)))
        args.extend((post_id, helper))
    return keys, args


# Sets a wave's records aside before they are sent, unless the post ended meanwhile. KEYS: each
# wave's state; ARGV: the same wave's JSON of {records, stored}, in the same order.
SET_SENDING_LUA = """
for i, state in ipairs(KEYS) do
  if redis.call('EXISTS', state) == 1 then redis.call('HSET', state, 'sending', ARGV[i]) end
end
return 1
"""


def sending_call(waves: list[tuple[str, str]]) -> Call:
    """`waves`: (post id, JSON of {records, stored})."""
    return [wave_key(post_id) for post_id, _ in waves], [sending for _, sending in waves]


# Flags. KEYS: for each flag the post's flags and withdrawn mark (2 keys a flag). ARGV[1]:
# distinct flaggers that withdraw a post; ARGV[2]: how long flags and the withdrawal are kept;
# then for each flag the post id and the flagger. Returns the posts withdrawn by these flags
# (each once, whichever worker sees the deciding flag first).
FLAG_LUA = """
local out = {}
local need = tonumber(ARGV[1])
for i = 3, #ARGV, 2 do
  local flags, withdrawn = KEYS[i - 2], KEYS[i - 1]
  redis.call('SADD', flags, ARGV[i + 1])
  redis.call('EXPIRE', flags, ARGV[2])
  if redis.call('SCARD', flags) >= need and redis.call('SET', withdrawn, 1, 'NX', 'EX', ARGV[2]) then
    table.insert(out, ARGV[i])
  end
end
return out
"""


def flag_call(flags: list[tuple[str, str]], need: int, ttl_s: int) -> Call:
    """`flags`: (post id, flagger)."""
    keys: list[str] = []
    args: list[Any] = [need, ttl_s]
    for post_id, flagger in flags:
        keys.extend((flags_key(post_id), withdrawn_key(post_id)))
        args.extend((post_id, flagger))
    return keys, args


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
