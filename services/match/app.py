"""match: routes goals and requests to the people most likely to help.

Two parts in each worker:
- the follower reads posts.classified.v1, reactions.v1, relations.v1, matches.v1 and helper.actions.v1 in full
  (no consumer group) into the in-memory ExpertiseIndex (services/match/ranking.py), so every
  worker holds the whole index, rebuilt from the topics at start (ready once caught up);
  routes on matches.v1 count against helpers' capacity in every worker alike;
- the ranking agent (consumer group: each worker ranks its share of partitions) ranks every
  root goal or request, sends a Match, and keeps the Redis views: the match of each post and
  each helper's inbox. A reply by a routed helper closes that request in their inbox.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Counter, Histogram

from services.core.contracts import (Candidate, ClassifiedPost, HelperAction, Match, Reaction, Relation, dumps,
                                     epoch_seconds, utc_now)
from services.core.kafka_io import topic_partitions
from services.core.openapi import match_document
from services.core.runtime import Runtime, event, json_response, problem, settle_heap
from services.match.ranking import ExpertiseIndex, MatchConfig

ROUTED_INTENTS = ("goal", "request")
FOLLOWED_TOPICS = ("posts.classified.v1", "reactions.v1", "relations.v1", "matches.v1", "helper.actions.v1")
INBOX_LIMIT = 100
YIELD_EVERY = 100  # index updates between two turns given to ranking and HTTP
RANKER_VERSION = "expertise-bm25-2026.12.1"  # recorded in every Match; bump when ranking changes

MATCHES = Counter("goalpost_match_matches_total", "Matches sent", ["intent"])
UNMATCHED = Counter("goalpost_match_unmatched_total", "Goals and requests with no candidate", ["intent"])
RANK_SECONDS = Histogram("goalpost_match_rank_seconds", "Time to rank one post (a batch's time over its posts)",
                         buckets=(.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1))
TIME_TO_MATCH = Histogram("goalpost_match_time_to_match_seconds",
                          "From a goal or request's created_at (its ingest time) to its match being sent",
                          buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300))
FOLLOWED = Counter("goalpost_match_index_events_total", "Events applied to the expertise index", ["topic"])

rt = Runtime("match")
settings = rt.settings
index = ExpertiseIndex(MatchConfig(
    capacity=settings.match_helper_cap, route_ttl_days=settings.match_ask_ttl_s / 86400,
    max_postings_per_term=settings.match_postings_per_term,
    max_terms=settings.match_max_terms, max_cached_roots=settings.match_cached_roots,
    max_cached_posts=settings.match_cached_posts, max_reactions=settings.match_cached_reactions,
    max_idle_users=settings.match_idle_users))


def _inbox_key(helper_id: str) -> str:
    return f"match:inbox:{helper_id}"


def _match_key(post_id: str) -> str:
    return f"match:post:{post_id}"


def apply_to_index(topic: str, value: bytes) -> list[tuple[str, str]]:
    """One event of a followed topic into the index. Returns the (helper, post_id) asks it
    ended, for the caller to drop from the Redis inboxes: a reply by someone other than the
    asker, or an accept, ends a request for every helper it was routed to.
    Records that do not decode are the producing or consuming service's to dead-letter."""
    data = orjson.loads(value)
    closed: list[tuple[str, str]] = []
    ended = None
    if topic == "posts.classified.v1":
        post = ClassifiedPost.from_dict(data)
        if post.reply_to:  # the replier's own ask is over, whatever the index still holds
            closed.append((post.author_id, post.reply_to))
        ended = index.observe_post(data, post.topics)  # the decoded dict: validated above, no second copy
    elif topic == "reactions.v1":
        Reaction.from_dict(data)
        ended = index.observe_reaction(data)
    elif topic == "relations.v1":
        Relation.from_dict(data)
        index.observe_relation(data)
    elif topic == "helper.actions.v1":
        HelperAction.from_dict(data)
        ended = index.observe_helper_action(data)
    elif topic == "matches.v1":
        match = Match.from_dict(data)
        index.route(match.post_id, [c.helper_id for c in match.candidates], match.matched_at, match.author_id)
    if ended is not None:
        post_id, helpers = ended
        closed.extend((helper, post_id) for helper in helpers)
    FOLLOWED.labels(topic).inc()
    return closed


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
            closed = []
            applied = 0
            for tp, messages in batches.items():
                for msg in messages:
                    applied += 1
                    if applied % YIELD_EVERY == 0:  # a 2,000-record batch took up to seconds of one loop
                        await asyncio.sleep(0)      # turn: let the ranking handler and the routes in
                    try:
                        closed.extend(apply_to_index(tp.topic, msg.value))
                    except Exception as exc:  # a record that does not decode: skipped here
                        event("index skipped a record", topic=tp.topic, offset=msg.offset, error=str(exc)[:200])
                    positions[tp] = msg.offset + 1
            if closed:
                assert rt.redis is not None
                async with rt.redis.pipeline(transaction=False) as pipe:
                    for helper_id, post_id in closed:
                        pipe.zrem(_inbox_key(helper_id), post_id)
                    await pipe.execute()
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


def build_matches(posts: list[ClassifiedPost], k: int) -> list[Match]:
    """One Match per post, the whole batch ranked in one call to the index."""
    if not posts:
        return []
    started = time.perf_counter()
    ranked = index.rank_batch([(post.to_dict(), post.topics) for post in posts], k=k)
    RANK_SECONDS.observe((time.perf_counter() - started) / len(posts))
    matched_at = utc_now()
    return [Match(post_id=post.post_id, author_id=post.author_id, intent=post.intent, topics=post.topics,
                  candidates=[Candidate(c.helper_id, c.score, list(c.reasons)) for c in cands],
                  matched_at=matched_at, model_version=RANKER_VERSION)
            for post, cands in zip(posts, ranked)]


async def rank_posts(records: list) -> None:
    await rt.state_recovered.wait()
    decoded = await rt.decode_or_dead_letter(records, ClassifiedPost)
    routed = {post.post_id: post for _, post in decoded if post.reply_to is None and post.intent in ROUTED_INTENTS}
    todo = await rt.not_done(list(routed), _match_key)  # a stored match marks its post as done
    matches = build_matches([post for post_id, post in routed.items() if post_id in todo], settings.match_top_k)
    await rt.send_records(matches)
    now = time.time()
    created = {post.post_id: post.created_at for _, post in decoded}
    for match in matches:
        (MATCHES if match.candidates else UNMATCHED).labels(match.intent).inc()
        age = now - epoch_seconds(created[match.post_id])
        if 0 <= age < 86400:  # live traffic only: a backfill of old posts would swamp the histogram
            TIME_TO_MATCH.observe(age)
    if matches:
        stored = [[_match_key(m.post_id), m.post_id, m.to_json().decode(), [_inbox_key(c.helper_id) for c in m.candidates]]
                  for m in matches]
        await rt.script("store_matches", STORE_MATCHES_LUA)(args=[dumps(stored), now, 30 * 86400, INBOX_LIMIT])


# Each match and its helpers' inboxes in one call per batch (a pipeline held 21 commands per match).
# ARGV[1]: JSON [[match key, post id, match JSON, [inbox keys]], ...]; then now, TTL (s), inbox size.
STORE_MATCHES_LUA = """
local now, ttl, keep = ARGV[2], ARGV[3], tonumber(ARGV[4])
for _, m in ipairs(cjson.decode(ARGV[1])) do
  redis.call('SET', m[1], m[3], 'EX', ttl)
  for _, inbox in ipairs(m[4]) do
    redis.call('ZADD', inbox, now, m[2])
    redis.call('ZREMRANGEBYRANK', inbox, 0, -keep - 1)
  end
end
return 1
"""


async def post_matches(view, request, post_id: str) -> Any:
    assert rt.redis is not None
    raw = await rt.redis.get(_match_key(post_id))
    if raw is None:
        return problem(view, 404, "Not Found", f"no match for post {post_id} (not a goal or request, "
                       "or not ranked yet)", field="post_id")
    return view.bytes(raw, content_type="application/json")


async def helper_inbox(view, request, user_id: str) -> Any:
    assert rt.redis is not None
    oldest = time.time() - settings.match_ask_ttl_s  # older asks have expired
    post_ids = [p.decode() for p in await rt.redis.zrevrangebyscore(_inbox_key(user_id), "+inf", oldest,
                                                                     start=0, num=INBOX_LIMIT)]
    raws = await rt.redis.mget([_match_key(p) for p in post_ids]) if post_ids else []
    items = []
    for post_id, raw in zip(post_ids, raws):
        if raw is None:
            continue
        m = orjson.loads(raw)
        mine = next((c for c in m["candidates"] if c["helper_id"] == user_id), None)
        items.append({"post_id": post_id, "author_id": m["author_id"], "intent": m["intent"],
                      "topics": m["topics"], "matched_at": m["matched_at"],
                      "score": mine["score"] if mine else None, "reasons": mine["reasons"] if mine else []})
    return json_response(view, {"user_id": user_id, "open": items})


rt.stream_batches("posts.classified.v1", rank_posts)
rt.route("/v1/posts/{post_id:.+}/matches", post_matches, scope="read")  # ids may hold "/" (ingest allows it)
rt.route("/v1/helpers/{user_id:.+}/inbox", helper_inbox, scope="read")
rt.serve_openapi(match_document())


@rt.app.task
async def _follower() -> None:
    positions: dict[TopicPartition, int] = {}
    while True:
        try:
            await follow_topics(positions)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker away: resume from where the index stopped
            event("index follower failed; resuming", error=repr(exc)[:300])
            await asyncio.sleep(1)


app = rt.app
