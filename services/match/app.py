"""match: routes goals and requests to the people most likely to help, and asks them in waves.

Three parts in each worker:
- the follower (services/match/follower.py) reads the followed topics in full into the
  in-memory ExpertiseIndex (services/match/ranking.py); its effects on the asks are applied by
  MatchViews (services/match/views.py);
- the ranking handler (consumer group: each worker ranks its share of partitions) ranks every
  root goal or request and asks its first wave: a Match and one Notification per helper asked;
- the wave timer: any worker claims the posts whose next wave or replacement is due
  (services/match/asks.py), ranks them again without the helpers asked already, and asks.
The wave rules are services/match/waves.py; `build(settings)` wires them together.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Iterable, Optional

import orjson
from aiokafka import TopicPartition

from services.core.contracts import INTENTS, Candidate, ClassifiedPost, Match, Notification, dumps, epoch_seconds, utc_now
from services.core.openapi import match_document
from services.core.runtime import Runtime, retry_forever
from services.core.settings import Settings
from services.match import asks
from services.match.follower import follow_topics
from services.match.metrics import ASKS, MATCHES, RANK_SECONDS, TIME_TO_MATCH, UNMATCHED, WAVES
from services.match.ranking import ExpertiseIndex, MatchConfig
from services.match.views import MatchViews
from services.match.waves import Step, WavePolicy, choose, due_step, next_wave_at, notifications, wave_match

ROUTED_INTENTS = ("goal", "request")
UNROUTED_INTENTS = tuple(i for i in INTENTS if i not in ROUTED_INTENTS)
RANKER_VERSION = "expertise-bm25-2026.12.1"  # recorded in every Match; bump when ranking changes
CLAIM_LEASE_S = 30.0   # a claimed wave a worker did not store by then is claimed again
CLAIM_BATCH = 200      # due posts claimed at once


def maybe_routed(records: list) -> list:
    """The records that may be a root goal or request, from a glance at their JSON: replies,
    offers and statuses are the follower's only (it reads every post, and logs one that does not
    fit its contract), so ranking does not decode them. A record that is not a post object at
    all, or names no known intent, stays: decoding dead-letters it."""
    out = []
    for record in records:
        try:
            data = orjson.loads(record.value)
        except (orjson.JSONDecodeError, TypeError):
            out.append(record)
            continue
        if not isinstance(data, dict) or (data.get("reply_to") is None and data.get("intent") not in UNROUTED_INTENTS):
            out.append(record)
    return out


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


def records_of(sending: dict) -> list[Any]:
    kinds: dict[str, Any] = {"matches.v1": Match, "notifications.v1": Notification}
    return [kinds[topic].from_dict(data) for topic, data in sending["records"]]


def index_for(settings: Settings) -> ExpertiseIndex:
    return ExpertiseIndex(MatchConfig(
        capacity=settings.match_helper_cap, route_ttl_days=settings.match_ask_ttl_s / 86400,
        max_postings_per_term=settings.match_postings_per_term,
        max_terms=settings.match_max_terms, max_cached_roots=settings.match_cached_roots,
        max_cached_posts=settings.match_cached_posts, max_reactions=settings.match_cached_reactions,
        max_idle_users=settings.match_idle_users))


def policy_for(settings: Settings) -> WavePolicy:
    return WavePolicy(size=settings.match_wave_size, after_s=settings.match_wave_after_s,
                      max_waves=settings.match_max_waves)


class Matcher:
    """Ranks and asks, for one worker: its index, wave policy and runtime."""

    def __init__(self, rt: Runtime, index: ExpertiseIndex, policy: WavePolicy):
        self.rt, self.settings, self.index, self.policy = rt, rt.settings, index, policy
        # A wave's state lives while more waves may come, and one wait longer for a late decline.
        self.wave_state_ttl_s = int(policy.after_s * (policy.max_waves + 1)) + 60
        self.sending: set[str] = set()  # posts whose first wave is ranked and not yet stored

    def plan_waves(self, todo: list[tuple[ClassifiedPost, Step, set[str], Optional[float]]], first: bool,
                   now: Optional[float] = None) -> list[Wave]:
        """Ranks each post again without the helpers asked already and picks its step's helpers.
        `todo` holds (post, step, asked, next wave time kept by a replacement step). First waves rank
        at the post's own time, later ones at `now`."""
        if not todo:
            return []
        started = time.perf_counter()
        ranked = self.index.rank_batch([(post.to_dict(), post.topics) for post, _, _, _ in todo], k=self.settings.match_top_k,
                                  now=None if first else now, exclude=[asked for _, _, asked, _ in todo])
        RANK_SECONDS.observe((time.perf_counter() - started) / len(todo))
        matched_at = utc_now()
        sent_at = time.time() if now is None else now
        waves = []
        for (post, step, asked, kept_next_at), found in zip(todo, ranked):
            candidates = [Candidate(c.helper_id, c.score, list(c.reasons)) for c in found]
            chosen = choose(candidates, asked, step.count)
            next_at = next_wave_at(step.wave, sent_at, self.policy) if step.new_wave else kept_next_at
            waves.append(Wave(post, wave_match(post, candidates, chosen, step.wave, matched_at, RANKER_VERSION),
                              chosen, first, next_at, 0 if step.new_wave else step.count))
        return waves

    async def send_and_store(self, waves: list[Wave], outputs: Optional[list[tuple[list[Any], list[Any]]]] = None,
                             resent: Iterable[tuple[list[Any], list[Any]]] = ()) -> None:
        """Sends each wave's Match and notifications (acks=all), then stores them in Redis, in one
        call each. `outputs` are the waves' (records, stored) when the caller has them already;
        `resent`, those set aside by a worker that crashed before storing them, sent as they are."""
        if outputs is None:
            outputs = [(w.records(), w.stored()) for w in waves]
        both = [*outputs, *resent]
        await self.rt.send_records([r for records, _ in both for r in records])
        for w in waves:
            wave = str(w.match.wave or 1)
            (MATCHES if w.match.candidates else UNMATCHED).labels(w.match.intent).inc()
            ASKS.labels(wave).inc(len(w.chosen))
            if w.replaced == 0:
                WAVES.labels(wave).inc()
        if both:
            keys, tail = asks.store_call([stored for _, stored in both])
            await self.rt.script("store_waves", asks.STORE_WAVES_LUA)(
                keys=keys, args=[time.time(), asks.VIEW_TTL_S, int(self.settings.match_ask_ttl_s), self.wave_state_ttl_s,
                                 asks.INBOX_LIMIT, *tail])

    async def rank_posts(self, records: list) -> Optional[Awaitable[None]]:
        """Ranks the first wave of every new root goal or request, and returns the sending and
        storing of those waves, which the consumer runs while it hands over the next batch."""
        await self.rt.state_recovered.wait()
        decoded = await self.rt.decode_or_dead_letter(maybe_routed(records), ClassifiedPost)
        routed = {post.post_id: post for _, post in decoded
                  if post.reply_to is None and post.intent in ROUTED_INTENTS and post.post_id not in self.sending}
        # a stored match marks its post as done; a withdrawal, one flagged before it was asked
        todo = await self.rt.not_done(list(routed), asks.match_key, asks.withdrawn_key)
        first = Step(1, self.policy.size, new_wave=True)
        posts = [post for post_id, post in routed.items() if post_id in todo]
        sealed = {post.post_id: post.text for post in posts}
        waves = self.plan_waves([(post, first, set(), None) for post in await self.rt.open_texts(posts)], first=True)
        for w in waves:  # ranked on the clear text; stored as it came, sealed
            w.post.text = sealed[w.post.post_id]
        if not waves:
            return None
        ids = [w.post.post_id for w in waves]
        self.sending.update(ids)  # a repeat of one in the next batch is not ranked again meanwhile
        return self.finish_first_waves(waves, ids)

    async def finish_first_waves(self, waves: list[Wave], ids: list[str]) -> None:
        try:
            await self.send_and_store(waves)
        finally:
            self.sending.difference_update(ids)
        now = time.time()
        for w in waves:
            age = now - epoch_seconds(w.post.created_at)
            if 0 <= age < 86400:  # live traffic only: a backfill of old posts would swamp the histogram
                TIME_TO_MATCH.observe(age)

    async def run_due_waves(self) -> int:
        """Claims the posts whose next step is due and asks. Returns how many were due (read)."""
        assert self.rt.redis is not None
        now = time.time()
        # Which posts are due is known only to Redis: read them, then claim those still due
        # (the script re-checks each, as another worker may claim the same ones meanwhile).
        read: list[bytes] = await self.rt.redis.zrangebyscore(  # type: ignore[assignment]
            asks.DUE_KEY, "-inf", now, start=0, num=CLAIM_BATCH)
        due = [p.decode() for p in read]
        if not due:
            return 0
        keys, args = asks.claim_call(due, now, CLAIM_LEASE_S)
        rows = await self.rt.script("claim_waves", asks.CLAIM_WAVES_LUA)(keys=keys, args=args)
        claimed = [asks.Claimed(row) for row in rows]
        resend = [c for c in claimed if c.sending is not None]
        todo, finished = [], []
        for c in claimed:
            if c.sending is not None:
                continue
            step = due_step(c.waves_sent, c.replacements, self.policy)
            if step is None:
                finished.append(c.post_id)
            else:
                todo.append((ClassifiedPost.from_dict(c.post), step, c.asked, c.next_at))
        readable = {id(p) for p in await self.rt.open_texts([t[0] for t in todo])}
        finished += [t[0].post_id for t in todo if id(t[0]) not in readable]  # the author was erased
        waves = self.plan_waves([t for t in todo if id(t[0]) in readable], first=False, now=now)
        outputs = [(w.records(), w.stored()) for w in waves]
        if waves:  # set aside before sending: a crash after the send resends these very records
            keys, args = asks.sending_call([(w.post.post_id, dumps({"records": [[r.topic, r.to_dict()] for r in records],
                                                                    "stored": stored}).decode())
                                            for w, (records, stored) in zip(waves, outputs)])
            await self.rt.script("set_sending", asks.SET_SENDING_LUA)(keys=keys, args=args)
        await self.send_and_store(waves, outputs, resent=[(records_of(s), s["stored"]) for c in resend if (s := c.sending) is not None])
        if finished:
            await self.rt.redis.zrem(asks.DUE_KEY, *finished)
        return len(due)


def build(settings: Optional[Settings] = None) -> Runtime:
    rt = Runtime("match", settings)
    index, policy = index_for(rt.settings), policy_for(rt.settings)
    matcher, views = Matcher(rt, index, policy), MatchViews(rt)
    rt.stream_batches("posts.classified.v1", matcher.rank_posts)
    rt.route("/v1/posts/{post_id:.+}/matches", views.post_matches, scope="read")  # ids may hold "/" (ingest allows it)
    rt.route("/v1/helpers/{user_id:.+}/inbox", views.helper_inbox, scope="read")
    rt.serve_openapi(match_document())

    async def follower() -> None:
        positions: dict[TopicPartition, int] = {}
        await retry_forever("index follower", lambda: follow_topics(rt, index, views, positions), 1)

    async def wave_timer() -> None:
        await rt.state_recovered.wait()  # ranking again needs the whole index
        tick = min(1.0, max(0.05, policy.after_s / 10))

        async def step() -> None:
            if await matcher.run_due_waves() < CLAIM_BATCH:
                await asyncio.sleep(tick)
        await retry_forever("wave timer", step, 1)

    rt.app.task(follower)
    rt.app.task(wave_timer)
    return rt
