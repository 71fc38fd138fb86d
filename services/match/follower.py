"""match's follower: every worker reads the followed topics in full (no consumer group) into
its in-memory ExpertiseIndex, so each holds the whole index, rebuilt from the topics at start
(ready once caught up). `apply_to_index` is the pure step: one event into the index and what it
means for the asks (Effects), applied to Redis by MatchViews."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.core.contracts import ClassifiedPost, Erasure, HelperAction, Match, Reaction, Relation, epoch_seconds
from services.core.kafka_io import topic_partitions
from services.core.privacy import is_sealed, unseal
from services.core.runtime import Runtime, event, settle_heap
from services.match.metrics import FOLLOWED
from services.match.ranking import ExpertiseIndex

if TYPE_CHECKING:
    from services.match.views import MatchViews

FOLLOWED_TOPICS = ("posts.classified.v1", "reactions.v1", "relations.v1", "matches.v1", "helper.actions.v1",
                   "erasures.v1")
YIELD_EVERY = 100  # index updates between two turns given to ranking and HTTP


@dataclass
class Effects:
    """What followed events ask of the Redis views (see apply_to_index)."""
    closed: list[tuple[str, str]] = field(default_factory=list)            # (helper, post): that ask is over
    ended: list[tuple[str, str, float]] = field(default_factory=list)      # (post, replier, when): over for all
    declined: list[tuple[str, str]] = field(default_factory=list)          # (post, helper): pass it on
    done: list[str] = field(default_factory=list)                          # posts with no further wave
    flagged: list[tuple[str, str]] = field(default_factory=list)           # (post, flagger)
    erased: list[str] = field(default_factory=list)                        # users to forget in the views


def apply_to_index(index: ExpertiseIndex, topic: str, data: Any, effects: Effects, keys: Optional[dict] = None) -> None:
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


async def follow_topics(rt: Runtime, index: ExpertiseIndex, views: "MatchViews", positions: dict[TopicPartition, int]) -> None:
    """Applies the followed topics to the index from `positions` (updated as it goes, so that
    after a broker failure the caller can resume exactly where this stopped)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=rt.settings.kafka_bootstrap, enable_auto_commit=False,
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
            keys = await rt.keyring.keys_for([d["author_id"] for tp, _, d in decoded
                                              if tp.topic == "posts.classified.v1" and isinstance(d, dict)
                                              and is_sealed(d.get("text")) and isinstance(d.get("author_id"), str)])
            for tp, msg, data in decoded:
                applied += 1
                if applied % YIELD_EVERY == 0:  # a 2,000-record batch takes up to seconds of one loop
                    await asyncio.sleep(0)      # turn: let the ranking handler and the routes in
                try:
                    apply_to_index(index, tp.topic, data, effects, keys)
                except Exception as exc:  # a record that does not fit its contract: skipped here
                    event("index skipped a record", topic=tp.topic, offset=msg.offset, error=str(exc)[:200])
                positions[tp] = msg.offset + 1
            if effects.closed or effects.ended or effects.declined or effects.flagged or effects.erased:
                await views.apply_effects(effects)
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
