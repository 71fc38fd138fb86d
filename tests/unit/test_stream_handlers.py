"""Stream handlers run in memory: the same decode, dead-letter, dedupe and send path as the
services (services/core/streams.py), with services/core/testing.py's broker in place of Kafka."""
import asyncio

from services.classify.app import classify_posts
from services.core.contracts import INTENTS, ClassifiedPost, Post, Record
from services.core.streams import RecordHandler
from services.core.testing import MemoryBroker


def post(post_id: str, text: str, author: str = "u1") -> dict:
    return {"post_id": post_id, "author_id": author, "text": text, "created_at": "2026-12-07T10:00:00.000Z"}


async def as_is(posts: list[Post]) -> list[Post]:
    return posts


def run(coro):
    return asyncio.run(coro)


def test_a_bad_record_goes_to_the_dead_letter_topic_with_its_reason_and_the_rest_is_handled():
    broker = MemoryBroker("classify")
    out = run(broker.run(classify_posts(as_is), "posts.v1",
                         [post("p1", "Can anyone recommend a hop for my first IPA?"), b"{not json", {"post_id": "p2"}]))
    assert [r.post_id for r in out] == ["p1"]
    assert [r.post_id for r in broker.topics["posts.classified.v1"]] == ["p1"]
    dead = broker.dead_letters
    assert [(d.topic_name, d.offset) for d in dead] == [("posts.v1", 1), ("posts.v1", 2)]
    assert "author_id" in dead[1].error  # the reason names the missing field


def test_a_post_seen_before_is_not_classified_again():
    broker = MemoryBroker("classify")
    handler = classify_posts(as_is)
    first = run(broker.run(handler, "posts.v1", [post("p1", "I want to run a marathon this year")] * 2))
    again = run(broker.run(handler, "posts.v1", [post("p1", "I want to run a marathon this year")]))
    assert len(first) == 1 and again == []
    assert len(broker.topics["posts.classified.v1"]) == 1


def test_classified_posts_carry_an_intent_scores_and_the_text_as_it_came():
    async def open_reversed(posts: list[Post]) -> list[Post]:  # a stand-in for unsealing
        for p in posts:
            p.text = p.text[::-1]
        return posts
    sealed = "?API tsrif ym rof poh a dnemmocer enoyna naC"
    (rec,) = run(MemoryBroker().run(classify_posts(open_reversed), "posts.v1", [post("p1", sealed)]))
    assert isinstance(rec, ClassifiedPost)
    assert rec.text == sealed  # passed on sealed, classified opened
    assert rec.intent in INTENTS and abs(sum(rec.scores.values()) - 1) < 0.01
    assert rec.intent == "request"


def test_the_posts_of_erased_authors_produce_nothing_but_are_marked_handled():
    async def erased(posts: list[Post]) -> list[Post]:
        return [p for p in posts if p.author_id != "gone"]
    broker = MemoryBroker()
    out = run(broker.run(classify_posts(erased), "posts.v1",
                         [post("p1", "I want to learn Spanish", author="gone"), post("p2", "I want to learn Spanish")]))
    assert [r.post_id for r in out] == ["p2"]
    assert broker.dead_letters == []
    assert run(broker.run(classify_posts(erased), "posts.v1", [post("p1", "again", author="gone")])) == []


def test_a_handler_that_fails_marks_nothing_so_the_batch_comes_again():
    calls: list[int] = []

    async def failing(posts: list[Post]) -> list[Record]:
        calls.append(len(posts))
        if len(calls) == 1:
            raise RuntimeError("broker away")
        return []
    handler = RecordHandler(Post, failing, done_key=lambda i: f"done:{i}", id_of=lambda p: p.post_id)
    broker = MemoryBroker()
    try:
        run(broker.run(handler, "posts.v1", [post("p1", "hello")]))
    except RuntimeError:
        pass
    run(broker.run(handler, "posts.v1", [post("p1", "hello")]))
    assert calls == [1, 1]


def test_raw_topic_messages_are_validated_in_memory_and_the_invalid_ones_get_their_reason():
    from services.ingest.app import RAW_POSTS, REACTIONS, validate_raw
    broker = MemoryBroker()
    msgs = broker.messages("posts.raw.v1", [{"post_id": "p1", "author_id": "u1", "text": "I want to learn to swim"},
                                            b"\xff not utf-8", {"author_id": "u1", "text": ""}])
    valid, dead = validate_raw(msgs, RAW_POSTS)
    assert [(r.post_id, r.source, idem) for _, r, idem in valid] == [("p1", "topic:posts.raw.v1", "p1")]
    assert [(msg.offset, reason.split(":")[0]) for msg, reason, _ in dead] == [(1, "$"), (2, "text")]
    valid, dead = validate_raw(broker.messages("reactions.raw.v1", [{"post_id": "p1", "actor_id": "u2", "kind": "like"}]),
                               REACTIONS)
    assert valid == [] and dead[0][1].startswith("kind")
