"""match's Redis views: what followed events do to the asks, inboxes and match views, and the
read routes over them (key layout: services/match/asks.py, docs/redis.md)."""
from __future__ import annotations

import time
from typing import Any, Sequence

import orjson

from services.core.contracts import dumps
from services.core.privacy import erased_token
from services.core.runtime import Runtime, event, json_response, problem
from services.match import asks
from services.match.follower import Effects
from services.match.metrics import ANSWERED, DECLINES, ERASED, TIME_TO_ANSWER, WITHDRAWN


class MatchViews:
    """The views of one match worker, on its runtime's Redis."""

    def __init__(self, rt: Runtime):
        self.rt, self.settings = rt, rt.settings

    async def apply_effects(self, effects: Effects) -> None:
        """The followed events' effects on the Redis views. Every worker's follower sees every
        event, so each step is idempotent: the first worker to apply it does the work."""
        assert self.rt.redis is not None
        for user in effects.erased:
            await self.erase_from_views(user)
        if effects.flagged:  # withdrawn from routing: ended for everyone, as an answer would
            keys, args = asks.flag_call(effects.flagged, self.settings.flags_to_withdraw, asks.VIEW_TTL_S)
            withdrawn = await self.rt.script("flag", asks.FLAG_LUA)(keys=keys, args=args)
            if withdrawn:
                WITHDRAWN.inc(len(withdrawn))
                await self.drop_posts([p.decode() for p in withdrawn])
        if effects.ended:
            results = await self.end_posts([(post_id, replier) for post_id, replier, _ in effects.ended], drop=False)
            for (_, _, at), result in zip(effects.ended, results):
                if result:  # the post was in its waves, and this is its first answer
                    was_asked, created = result.split("|")
                    label = "asked" if was_asked == "1" else "other"
                    ANSWERED.labels(label).inc()
                    TIME_TO_ANSWER.labels(label).observe(max(0.0, at - float(created)))
        if effects.declined:
            keys, args = asks.decline_call(effects.declined, time.time())
            DECLINES.inc(await self.rt.script("decline", asks.DECLINE_LUA)(keys=keys, args=args))
        await self.close(effects.closed, effects.done)

    async def close(self, closed: list[tuple[str, str]], done: Sequence[str] = ()) -> None:
        """Takes the asks `closed`, each (helper, post), out of their inboxes, and ends the
        waves of the posts `done`."""
        if closed or done:
            keys, args = asks.close_call(closed, done)
            await self.rt.script("close_asks", asks.CLOSE_ASKS_LUA)(keys=keys, args=args)

    async def end_posts(self, posts: list[tuple[str, str]], drop: bool) -> list[str]:
        """Ends `posts`, each (post id, replier or ''), for every helper asked (END_POSTS_LUA, which
        returns each post's result); `drop` also deletes their match views."""
        assert self.rt.redis is not None
        # The inboxes to clean are named by the asks' fields, which only Redis has: read them
        # first (one call), then end the posts over those keys.
        keys, args = asks.asked_call([post_id for post_id, _ in posts])
        asked = await self.rt.script("asked", asks.ASKED_LUA)(keys=keys, args=args)
        keys, args = asks.end_call([(post_id, replier, drop, [h.decode() for h in helpers])
                                    for (post_id, replier), helpers in zip(posts, asked)])
        rows = await self.rt.script("end_posts", asks.END_POSTS_LUA)(keys=keys, args=args)
        since = [(helper.decode(), post_id) for (post_id, _), (_, added) in zip(posts, rows) for helper in added]
        await self.close(since)  # asked by a wave stored between the read and the script
        return [result.decode() if isinstance(result, bytes) else result for result, _ in rows]

    async def drop_posts(self, post_ids: list[str]) -> None:
        """Posts taken out of routing (withdrawn, or by an erased author): ended for everyone asked,
        no further wave, and their match view gone."""
        if post_ids:
            await self.end_posts([(p, "") for p in post_ids], drop=True)

    async def erase_from_views(self, user: str) -> None:
        """Takes an erased user out of every match view: their inbox, their asks, the matches that
        name them (rewritten without them), the posts they wrote (ended, out of every inbox) and the
        flags they gave. One worker does it (a guard key for five minutes; a replay does it again)."""
        assert self.rt.redis is not None
        if not await self.rt.redis.set(asks.erasing_key(erased_token(user)), 1, nx=True, ex=300):
            return
        self.rt.keyring.forget(user)
        redis = self.rt.redis

        async def keys(pattern: str) -> list[bytes]:
            return [k async for k in redis.scan_iter(match=pattern, count=1000)]

        # one pipeline per kind of key, not a round trip per key (erasure scans them all)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.delete(asks.inbox_key(user))
            for key in await keys(asks.ASKS_PATTERN):
                pipe.hdel(key, user)
            for key in await keys(asks.FLAGS_PATTERN):
                pipe.srem(key, user)
            await pipe.execute()
        own = []
        views = await keys(asks.MATCHES_PATTERN)
        for i in range(0, len(views), 1000):
            chunk = views[i:i + 1000]
            rewritten = {}
            for key, raw in zip(chunk, await redis.mget(chunk)):
                if raw is None or user.encode() not in raw:
                    continue
                m = orjson.loads(raw)
                if m.get("author_id") == user:
                    own.append(m["post_id"])
                    continue
                m["candidates"] = [c for c in m.get("candidates", []) if c.get("helper_id") != user]
                if m.get("asked") is not None:
                    m["asked"] = [h for h in m["asked"] if h != user]
                rewritten[key] = dumps(m)
            if rewritten:
                async with redis.pipeline(transaction=False) as pipe:
                    for key, value in rewritten.items():
                        pipe.set(key, value, keepttl=True)
                    await pipe.execute()
        await self.drop_posts(own)
        ERASED.inc()
        event("user erased from the match views", posts=len(own))

    async def post_matches(self, view, request, post_id: str) -> Any:
        assert self.rt.redis is not None
        raw = await self.rt.redis.get(asks.match_key(post_id))
        if raw is None and await self.rt.redis.exists(asks.withdrawn_key(post_id)):
            return problem(view, 410, "Gone", f"post {post_id} was withdrawn from routing: "
                           f"{self.settings.flags_to_withdraw} users flagged it", field="post_id")
        if raw is None:
            return problem(view, 404, "Not Found", f"no match for post {post_id} (not a goal or request, "
                           "or not ranked yet)", field="post_id")
        return view.bytes(raw, content_type="application/json")

    async def helper_inbox(self, view, request, user_id: str) -> Any:
        """The helper's open asks, newest first, each with why they were asked."""
        assert self.rt.redis is not None
        oldest = time.time() - self.settings.match_ask_ttl_s  # older asks have expired
        newest: list[bytes] = await self.rt.redis.zrevrangebyscore(  # type: ignore[assignment]
            asks.inbox_key(user_id), "+inf", oldest, start=0, num=asks.INBOX_LIMIT)
        post_ids = [p.decode() for p in newest]
        items = []
        if post_ids:
            async with self.rt.redis.pipeline(transaction=False) as pipe:
                pipe.mget([asks.match_key(p) for p in post_ids])
                for p in post_ids:
                    pipe.hget(asks.asks_key(p), user_id)
                raws, *details = await pipe.execute()
            for post_id, raw, detail in zip(post_ids, raws, details):
                if raw is None or detail is None:  # the view expired, or the ask ended meanwhile
                    continue
                m, mine = orjson.loads(raw), orjson.loads(detail)
                items.append({"post_id": post_id, "author_id": m["author_id"], "intent": m["intent"],
                              "topics": m["topics"], "wave": mine["wave"], "score": mine["score"],
                              "reasons": mine["reasons"], "asked_at": mine["asked_at"]})
        return json_response(view, {"user_id": user_id, "open": items})
