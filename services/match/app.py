"""match: routes goals and requests to the people most likely to help, and asks them in waves.

Three parts in each worker:
- the follower reads posts.classified.v1, reactions.v1, relations.v1, matches.v1 and
  helper.actions.v1 in full (no consumer group) into the in-memory ExpertiseIndex
  (services/match/ranking.py), so every worker holds the whole index, rebuilt from the topics
  at start (ready once caught up). Asks on matches.v1 count against helpers' capacity in every
  worker alike. A reply or an accept ends a post for everyone; a decline passes its ask on;
- the ranking agent (consumer group: each worker ranks its share of partitions) ranks every
  root goal or request and asks its first wave: a Match and one Notification per helper asked;
- the wave timer (services/match/asks.py): any worker claims the posts whose next wave or
  replacement is due, ranks them again without the helpers asked already, and asks.
The wave rules are services/match/waves.py.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Counter, Histogram

from services.core.contracts import (Candidate, ClassifiedPost, Erasure, HelperAction, Match, Notification, Reaction,
                                     Relation, dumps, epoch_seconds, utc_now)
from services.core.kafka_io import topic_partitions
from services.core.openapi import match_document
from services.core.privacy import erased_token, is_sealed, unseal
from services.core.runtime import Runtime, event, json_response, problem, retry_forever, settle_heap
from services.match import asks
from services.match.ranking import ExpertiseIndex, MatchConfig
from services.match.waves import Step, WavePolicy, choose, due_step, next_wave_at, notifications, wave_match

ROUTED_INTENTS = ("goal", "request")
FOLLOWED_TOPICS = ("posts.classified.v1", "reactions.v1", "relations.v1", "matches.v1", "helper.actions.v1",
                   "erasures.v1")
YIELD_EVERY = 100  # index updates between two turns given to ranking and HTTP
RANKER_VERSION = "expertise-bm25-2026.12.1"  # recorded in every Match; bump when ranking changes
CLAIM_LEASE_S = 30.0   # a claimed wave a worker did not store by then is claimed again
CLAIM_BATCH = 200      # due posts claimed at once

MATCHES = Counter("goalpost_match_matches_total", "Matches sent", ["intent"])
UNMATCHED = Counter("goalpost_match_unmatched_total", "Goals and requests with no candidate", ["intent"])
RANK_SECONDS = Histogram("goalpost_match_rank_seconds", "Time to rank one post (a batch's time over its posts)",
                         buckets=(.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1))
TIME_TO_MATCH = Histogram("goalpost_match_time_to_match_seconds",
                          "From a goal or request's created_at (its ingest time) to its match being sent",
                          buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300))
FOLLOWED = Counter("goalpost_match_index_events_total", "Events applied to the expertise index", ["topic"])
ASKS = Counter("goalpost_match_asks_total", "Helpers asked (one notification each), by wave", ["wave"])
WAVES = Counter("goalpost_match_waves_total", "Waves of asks sent, by wave (replacements for declines not counted)",
                ["wave"])
ERASED = Counter("goalpost_match_erasures_total", "Users erased from the match index and views")
WITHDRAWN = Counter("goalpost_match_withdrawn_total", "Posts withdrawn from routing by flags")
DECLINES = Counter("goalpost_match_declines_total", "Asks declined (each passed on to the next candidate)")
ANSWERED = Counter("goalpost_match_answered_total",
                   "Goals and requests in their waves that got a first reply, by whether the replier was asked",
                   ["replier"])
TIME_TO_ANSWER = Histogram("goalpost_match_time_to_first_answer_seconds",
                           "From a goal or request's created_at to its first reply or accept",
                           ["replier"], buckets=(10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400))

rt = Runtime("match")
settings = rt.settings
index = ExpertiseIndex(MatchConfig(
    capacity=settings.match_helper_cap, route_ttl_days=settings.match_ask_ttl_s / 86400,
    max_postings_per_term=settings.match_postings_per_term,
    max_terms=settings.match_max_terms, max_cached_roots=settings.match_cached_roots,
    max_cached_posts=settings.match_cached_posts, max_reactions=settings.match_cached_reactions,
    max_idle_users=settings.match_idle_users))


policy = WavePolicy(size=settings.match_wave_size, after_s=settings.match_wave_after_s,
                    max_waves=settings.match_max_waves)
# A wave's state lives while more waves may come, and one wait longer for a late decline.
WAVE_STATE_TTL_S = int(policy.after_s * (policy.max_waves + 1)) + 60


@dataclass
class Effects:
    """What followed events ask of the Redis views (see apply_to_index)."""
    closed: list[tuple[str, str]] = field(default_factory=list)            # (helper, post): that ask is over
    ended: list[tuple[str, str, float]] = field(default_factory=list)      # (post, replier, when): over for all
    declined: list[tuple[str, str]] = field(default_factory=list)          # (post, helper): pass it on
    done: list[str] = field(default_factory=list)                          # posts with no further wave
    flagged: list[tuple[str, str]] = field(default_factory=list)           # (post, flagger)
    erased: list[str] = field(default_factory=list)                        # users to forget in the views


def apply_to_index(topic: str, data: Any, effects: Effects, keys: Optional[dict] = None) -> None:
    """One event of a followed topic into the index, and what it means for the asks: a reply
    by someone other than the asker, or an accept, ends the post for every helper asked; a
    decline ends that helper's ask and passes it on; done ends the helper's ask and the waves.
    Records that do not decode are the producing or consuming service's to dead-letter. `keys`
    holds the text keys of the posts' authors: a post whose author was erased is skipped."""
    ended = None
    replier = ""
    if topic == "erasures.v1":
        user = Erasure.from_dict(data).user_id
        index.erase(user)
        effects.erased.append(user)
    elif topic == "posts.classified.v1":
        post = ClassifiedPost.from_dict(data)
        text = unseal((keys or {}).get(post.author_id), post.text, post.author_id)
        if text is None or index.involves_erased(post.author_id):
            return
        data["text"] = text
        if post.reply_to:  # the replier's own ask is over, whatever the index still holds
            effects.closed.append((post.author_id, post.reply_to))
        ended = index.observe_post(data, post.topics)  # the decoded dict: validated above, no second copy
        replier, at = post.author_id, post.created_at
    elif topic == "reactions.v1":
        reaction = Reaction.from_dict(data)
        if index.involves_erased(reaction.actor_id):
            return
        if reaction.kind == "flag":
            effects.flagged.append((reaction.post_id, reaction.actor_id))
        ended = index.observe_reaction(data)
        at = reaction.created_at
    elif topic == "relations.v1":
        relation = Relation.from_dict(data)
        if not index.involves_erased(relation.actor_id, relation.target_id):
            index.observe_relation(data)
    elif topic == "helper.actions.v1":
        action = HelperAction.from_dict(data)
        if index.involves_erased(action.helper_id):
            return
        index.observe_helper_action(data)
        if action.action in ("decline", "done"):
            effects.closed.append((action.helper_id, action.post_id))
            if action.action == "decline":
                effects.declined.append((action.post_id, action.helper_id))
            else:
                effects.done.append(action.post_id)
    elif topic == "matches.v1":
        match = Match.from_dict(data)
        index.route(match.post_id, match.asked_ids(), match.matched_at, match.author_id)
    if ended is not None:
        post_id, helpers = ended
        effects.closed.extend((helper, post_id) for helper in helpers)
        effects.ended.append((post_id, replier, epoch_seconds(at)))
    FOLLOWED.labels(topic).inc()


async def apply_effects(effects: Effects) -> None:
    """The followed events' effects on the Redis views. Every worker's follower sees every
    event, so each step is idempotent: the first worker to apply it does the work."""
    assert rt.redis is not None
    for user in effects.erased:
        await erase_from_views(user)
    if effects.flagged:  # withdrawn from routing: ended for everyone, as an answer would
        withdrawn = await rt.script("flag", asks.FLAG_LUA)(
            args=[dumps(effects.flagged), settings.flags_to_withdraw, asks.VIEW_TTL_S])
        if withdrawn:
            WITHDRAWN.inc(len(withdrawn))
            await drop_posts([p.decode() for p in withdrawn])
    if effects.ended:
        results = await rt.script("end_posts", asks.END_POSTS_LUA)(
            args=[dumps([[post_id, replier] for post_id, replier, _ in effects.ended])])
        for (_, _, at), result in zip(effects.ended, results):
            if result:  # the post was in its waves, and this is its first answer
                was_asked, created = result.decode().split("|")
                label = "asked" if was_asked == "1" else "other"
                ANSWERED.labels(label).inc()
                TIME_TO_ANSWER.labels(label).observe(max(0.0, at - float(created)))
    if effects.declined:
        DECLINES.inc(await rt.script("decline", asks.DECLINE_LUA)(args=[dumps(effects.declined), time.time()]))
    async with rt.redis.pipeline(transaction=False) as pipe:
        for helper_id, post_id in effects.closed:
            pipe.zrem(asks.inbox_key(helper_id), post_id)
        for post_id in effects.done:
            pipe.zrem(asks.DUE_KEY, post_id)
            pipe.delete(asks.wave_key(post_id))
        await pipe.execute()


async def drop_posts(post_ids: list[str]) -> None:
    """Posts taken out of routing (withdrawn, or by an erased author): ended for everyone asked,
    no further wave, and their match view gone."""
    if post_ids:
        assert rt.redis is not None
        await rt.script("end_posts", asks.END_POSTS_LUA)(args=[dumps([[p, ""] for p in post_ids])])
        await rt.redis.delete(*[asks.match_key(p) for p in post_ids])


async def erase_from_views(user: str) -> None:
    """Takes an erased user out of every match view: their inbox, their asks, the matches that
    name them (rewritten without them), the posts they wrote (ended, out of every inbox) and the
    flags they gave. One worker does it (a guard key for five minutes; a replay does it again)."""
    assert rt.redis is not None
    if not await rt.redis.set(asks.erasing_key(erased_token(user)), 1, nx=True, ex=300):
        return
    rt.keyring.forget(user)
    redis = rt.redis

    async def keys(pattern: str) -> list[bytes]:
        return [k async for k in redis.scan_iter(match=pattern, count=1000)]

    # one pipeline per kind of key, not a round trip per key (erasure scans them all)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.delete(asks.inbox_key(user))
        for key in await keys("match:asks:*"):
            pipe.hdel(key, user)
        for key in await keys("match:flags:*"):
            pipe.srem(key, user)
        await pipe.execute()
    own = []
    views = await keys("match:post:*")
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
    await drop_posts(own)
    ERASED.inc()
    event("user erased from the match views", posts=len(own))


async def follow_topics(positions: dict[TopicPartition, int]) -> None:
    """Applies the followed topics to the index from `positions` (updated as it goes, so that
    after a broker failure the caller can resume exactly where this stopped)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", max_poll_records=2000)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, FOLLOWED_TOPICS)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, positions.get(tp, 0))
        pending: set[TopicPartition] = set()
        if not rt.state_recovered.is_set():
            end = await consumer.end_offsets(partitions)
            pending = {tp for tp in partitions if end[tp] > positions.get(tp, 0)}
            event("index recovery started", events=sum(end.values()))
            if not pending:
                rt.state_recovered.set()
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            effects = Effects()
            applied = 0
            decoded = []
            for tp, messages in batches.items():
                for msg in messages:
                    try:
                        decoded.append((tp, msg, orjson.loads(msg.value)))
                    except Exception as exc:  # a record that does not decode: skipped here
                        event("index skipped a record", topic=tp.topic, offset=msg.offset, error=str(exc)[:200])
                        positions[tp] = msg.offset + 1
            keys = await rt.keyring.keys_for([d.get("author_id") for tp, _, d in decoded
                                              if tp.topic == "posts.classified.v1" and isinstance(d, dict)
                                              and is_sealed(d.get("text"))])
            for tp, msg, data in decoded:
                applied += 1
                if applied % YIELD_EVERY == 0:  # a 2,000-record batch took up to seconds of one loop
                    await asyncio.sleep(0)      # turn: let the ranking handler and the routes in
                try:
                    apply_to_index(tp.topic, data, effects, keys)
                except Exception as exc:  # a record that does not fit its contract: skipped here
                    event("index skipped a record", topic=tp.topic, offset=msg.offset, error=str(exc)[:200])
                positions[tp] = msg.offset + 1
            if effects.closed or effects.ended or effects.declined or effects.flagged or effects.erased:
                await apply_effects(effects)
            await asyncio.sleep(0)  # let the ranking agent and the web server run between batches
            if pending:
                pending = {tp for tp in pending if positions.get(tp, 0) < end[tp]}
                if not pending:
                    rt.state_recovered.set()
                    # The recovered index is long-lived: keep the collector from walking it on
                    # every full pass (a pause of milliseconds per rank at 100k helpers).
                    settle_heap()
                    event("index recovered", helpers=len(index.helpers))
    finally:
        await consumer.stop()


@dataclass
class Wave:
    """One step of asks for one post, ready to send and store."""
    post: ClassifiedPost
    match: Match
    chosen: list[Candidate]
    first: bool
    next_at: Optional[float]
    replaced: int  # replacements for declines this step stands for

    def records(self) -> list[Any]:
        return [self.match, *notifications(self.match, self.chosen)]

    def stored(self) -> list[Any]:
        """This wave's arguments to STORE_WAVES_LUA (asks.store_args)."""
        wave = self.match.wave or 1
        first = self.first
        return [self.post.post_id, self.match.to_json().decode(), wave, 1 if first else 0,
                self.post.to_json().decode() if first else "", epoch_seconds(self.post.created_at) if first else 0,
                -1 if self.next_at is None else self.next_at, self.replaced,
                [[c.helper_id, asks.ask_detail(wave, c.score, c.reasons, self.match.matched_at)] for c in self.chosen]]


def plan_waves(todo: list[tuple[ClassifiedPost, Step, set[str], Optional[float]]], first: bool,
               now: Optional[float] = None) -> list[Wave]:
    """Ranks each post again without the helpers asked already and picks its step's helpers.
    `todo` holds (post, step, asked, next wave time kept by a replacement step). First waves rank
    at the post's own time, later ones at `now`."""
    if not todo:
        return []
    started = time.perf_counter()
    ranked = index.rank_batch([(post.to_dict(), post.topics) for post, _, _, _ in todo], k=settings.match_top_k,
                              now=None if first else now, exclude=[asked for _, _, asked, _ in todo])
    RANK_SECONDS.observe((time.perf_counter() - started) / len(todo))
    matched_at = utc_now()
    sent_at = time.time() if now is None else now
    waves = []
    for (post, step, asked, kept_next_at), found in zip(todo, ranked):
        candidates = [Candidate(c.helper_id, c.score, list(c.reasons)) for c in found]
        chosen = choose(candidates, asked, step.count)
        next_at = next_wave_at(step.wave, sent_at, policy) if step.new_wave else kept_next_at
        waves.append(Wave(post, wave_match(post, candidates, chosen, step.wave, matched_at, RANKER_VERSION),
                          chosen, first, next_at, 0 if step.new_wave else step.count))
    return waves


async def send_and_store(waves: list[Wave], outputs: Optional[list[tuple[list[Any], list[Any]]]] = None,
                         resent: Iterable[tuple[list[Any], list[Any]]] = ()) -> None:
    """Sends each wave's Match and notifications (acks=all), then stores them in Redis, in one
    call each. `outputs` are the waves' (records, stored) when the caller has them already;
    `resent`, those set aside by a worker that crashed before storing them, sent as they are."""
    if outputs is None:
        outputs = [(w.records(), w.stored()) for w in waves]
    both = [*outputs, *resent]
    await rt.send_records([r for records, _ in both for r in records])
    for w in waves:
        wave = str(w.match.wave or 1)
        (MATCHES if w.match.candidates else UNMATCHED).labels(w.match.intent).inc()
        ASKS.labels(wave).inc(len(w.chosen))
        if w.replaced == 0:
            WAVES.labels(wave).inc()
    if both:
        await rt.script("store_waves", asks.STORE_WAVES_LUA)(
            args=[time.time(), asks.VIEW_TTL_S, int(settings.match_ask_ttl_s), WAVE_STATE_TTL_S, asks.INBOX_LIMIT,
                  *asks.store_args([stored for _, stored in both])])


async def rank_posts(records: list) -> None:
    """The first wave of every new root goal or request."""
    await rt.state_recovered.wait()
    decoded = await rt.decode_or_dead_letter(records, ClassifiedPost)
    routed = {post.post_id: post for _, post in decoded if post.reply_to is None and post.intent in ROUTED_INTENTS}
    todo = await rt.not_done(list(routed), asks.match_key)  # a stored match marks its post as done
    todo &= await rt.not_done(list(todo), asks.withdrawn_key)  # flagged before it was asked
    first = Step(1, policy.size, new_wave=True)
    posts = [post for post_id, post in routed.items() if post_id in todo]
    sealed = {post.post_id: post.text for post in posts}
    waves = plan_waves([(post, first, set(), None) for post in await rt.open_texts(posts)], first=True)
    for w in waves:  # ranked on the clear text; stored as it came, sealed
        w.post.text = sealed[w.post.post_id]
    await send_and_store(waves)
    now = time.time()
    for w in waves:
        age = now - epoch_seconds(w.post.created_at)
        if 0 <= age < 86400:  # live traffic only: a backfill of old posts would swamp the histogram
            TIME_TO_MATCH.observe(age)


async def run_due_waves() -> int:
    """Claims the posts whose next step is due and asks. Returns how many were claimed."""
    now = time.time()
    rows = await rt.script("claim_waves", asks.CLAIM_WAVES_LUA)(args=[now, CLAIM_LEASE_S, CLAIM_BATCH])
    claimed = [asks.Claimed(row) for row in rows]
    resend = [c for c in claimed if c.sending is not None]
    todo, finished = [], []
    for c in claimed:
        if c.sending is not None:
            continue
        step = due_step(c.waves_sent, c.replacements, policy)
        if step is None:
            finished.append(c.post_id)
        else:
            todo.append((ClassifiedPost.from_dict(c.post), step, c.asked, c.next_at))
    readable = {id(p) for p in await rt.open_texts([t[0] for t in todo])}
    finished += [t[0].post_id for t in todo if id(t[0]) not in readable]  # the author was erased
    waves = plan_waves([t for t in todo if id(t[0]) in readable], first=False, now=now)
    outputs = [(w.records(), w.stored()) for w in waves]
    if waves:  # set aside before sending: a crash after the send resends these very records
        setaside = rt.script("set_sending", asks.SET_SENDING_LUA)
        await setaside(args=[dumps([[w.post.post_id, dumps({"records": [[r.topic, r.to_dict()] for r in records],
                                                               "stored": stored}).decode()]
                                    for w, (records, stored) in zip(waves, outputs)])])
    await send_and_store(waves, outputs, resent=[(_records(c.sending), c.sending["stored"]) for c in resend])
    if finished:
        assert rt.redis is not None
        await rt.redis.zrem(asks.DUE_KEY, *finished)
    return len(claimed)


def _records(sending: dict) -> list[Any]:
    kinds = {"matches.v1": Match, "notifications.v1": Notification}
    return [kinds[topic].from_dict(data) for topic, data in sending["records"]]


async def post_matches(view, request, post_id: str) -> Any:
    assert rt.redis is not None
    raw = await rt.redis.get(asks.match_key(post_id))
    if raw is None and await rt.redis.exists(asks.withdrawn_key(post_id)):
        return problem(view, 410, "Gone", f"post {post_id} was withdrawn from routing: "
                       f"{settings.flags_to_withdraw} users flagged it", field="post_id")
    if raw is None:
        return problem(view, 404, "Not Found", f"no match for post {post_id} (not a goal or request, "
                       "or not ranked yet)", field="post_id")
    return view.bytes(raw, content_type="application/json")


async def helper_inbox(view, request, user_id: str) -> Any:
    """The helper's open asks, newest first, each with why they were asked."""
    assert rt.redis is not None
    oldest = time.time() - settings.match_ask_ttl_s  # older asks have expired
    post_ids = [p.decode() for p in await rt.redis.zrevrangebyscore(asks.inbox_key(user_id), "+inf", oldest,
                                                                     start=0, num=asks.INBOX_LIMIT)]
    items = []
    if post_ids:
        async with rt.redis.pipeline(transaction=False) as pipe:
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


rt.stream_batches("posts.classified.v1", rank_posts)
rt.route("/v1/posts/{post_id:.+}/matches", post_matches, scope="read")  # ids may hold "/" (ingest allows it)
rt.route("/v1/helpers/{user_id:.+}/inbox", helper_inbox, scope="read")
rt.serve_openapi(match_document())


@rt.app.task
async def _follower() -> None:
    positions: dict[TopicPartition, int] = {}
    await retry_forever("index follower", lambda: follow_topics(positions), 1)


@rt.app.task
async def _wave_timer() -> None:
    await rt.state_recovered.wait()  # ranking again needs the whole index
    tick = min(1.0, max(0.05, policy.after_s / 10))

    async def step() -> None:
        if await run_due_waves() < CLAIM_BATCH:
            await asyncio.sleep(tick)
    await retry_forever("wave timer", step, 1)


app = rt.app
