"""match's handlers in memory: followed events into the index and their effects on the asks,
and a first wave planned from what the index learned (no Kafka, no Redis)."""
from services.core.contracts import ClassifiedPost, Match, Notification
from services.core.runtime import Runtime
from services.match.app import Matcher, index_for, policy_for
from services.match.follower import Effects, apply_to_index
from services.match.waves import Step


def classified(post_id, author, text, at, reply_to=None, intent="request", topics=("beer",)):
    return ClassifiedPost(post_id=post_id, author_id=author, text=text, created_at=at, reply_to=reply_to,
                          tags=[], source="test", intent=intent, confidence=0.9,
                          scores={"goal": 0.02, "request": 0.9, "offer": 0.04, "status": 0.04},
                          topics=list(topics), model_version="test").to_dict()


def learned_matcher():
    rt = Runtime("match")
    matcher = Matcher(rt, index_for(rt.settings), policy_for(rt.settings))
    effects = Effects()
    for i in range(3):  # "hops" answers by hopper, one unrelated answer by other
        apply_to_index(matcher.index, "posts.classified.v1",
                       classified(f"q{i}", f"asker{i}", f"which hops for a pale ale {i}?", f"2026-12-0{i + 1}T10:00:00.000Z"), effects)
        apply_to_index(matcher.index, "posts.classified.v1",
                       classified(f"a{i}", "hopper", "citra and mosaic hops", f"2026-12-0{i + 1}T11:00:00.000Z",
                                  reply_to=f"q{i}", intent="offer"), effects)
    apply_to_index(matcher.index, "posts.classified.v1",
                   classified("q9", "asker9", "how do I descale a kettle?", "2026-12-04T10:00:00.000Z"), effects)
    apply_to_index(matcher.index, "posts.classified.v1",
                   classified("a9", "other", "vinegar works", "2026-12-04T11:00:00.000Z", reply_to="q9", intent="offer"),
                   effects)
    return matcher, effects


def test_a_reply_ends_the_root_for_everyone_and_closes_the_repliers_own_ask():
    _, effects = learned_matcher()
    assert ("hopper", "q0") in effects.closed
    assert [(post, replier) for post, replier, _ in effects.ended][:1] == [("q0", "hopper")]


def test_a_decline_passes_its_ask_on_and_done_ends_the_waves():
    matcher, _ = learned_matcher()
    effects = Effects()
    for action_id, action in (("x1", "decline"), ("x2", "done")):
        apply_to_index(matcher.index, "helper.actions.v1",
                       {"action_id": action_id, "helper_id": "hopper", "post_id": "q5", "action": action,
                        "created_at": "2026-12-05T10:00:00.000Z"}, effects)
    assert effects.declined == [("q5", "hopper")]
    assert effects.done == ["q5"]


def test_an_erasure_forgets_the_user_in_the_index_and_asks_the_views_to():
    matcher, _ = learned_matcher()
    effects = Effects()
    apply_to_index(matcher.index, "erasures.v1",
                   {"erasure_id": "e1", "user_id": "hopper", "requested_at": "2026-12-05T10:00:00.000Z"}, effects)
    assert effects.erased == ["hopper"]
    assert "hopper" not in matcher.index.helpers


def test_a_first_wave_asks_the_topical_helper_with_one_notification_each():
    matcher, _ = learned_matcher()
    post = ClassifiedPost.from_dict(classified("new", "asker5", "best hops for a pale ale?", "2026-12-06T10:00:00.000Z"))
    (wave,) = matcher.plan_waves([(post, Step(1, 3, new_wave=True), set(), None)], first=True)
    match, *notes = wave.records()
    assert isinstance(match, Match) and match.wave == 1
    assert match.candidates[0].helper_id == "hopper"
    assert "hopper" in match.asked and "asker5" not in match.asked  # the author is never a candidate
    assert all(isinstance(n, Notification) for n in notes) and len(notes) == len(match.asked)
    assert wave.next_at is not None  # a later wave is due unless someone answers


def test_a_later_wave_leaves_out_those_asked_already():
    matcher, _ = learned_matcher()
    post = ClassifiedPost.from_dict(classified("new", "asker5", "best hops for a pale ale?", "2026-12-06T10:00:00.000Z"))
    (wave,) = matcher.plan_waves([(post, Step(2, 3, new_wave=True), {"hopper"}, None)], first=False, now=1.8e9)
    assert "hopper" not in (wave.match.asked or [])
    assert wave.match.wave == 2


def test_ranking_decodes_only_what_may_be_a_root_goal_or_request():
    import types

    import orjson

    from services.match.app import maybe_routed

    def rec(value):
        return types.SimpleNamespace(value=value)

    posts = {
        "request": classified("q1", "u1", "which hops?", "2026-12-01T10:00:00.000Z"),
        "goal": classified("g1", "u1", "run a 10k", "2026-12-01T10:00:00.000Z", intent="goal"),
        "reply": classified("a1", "u2", "citra", "2026-12-01T11:00:00.000Z", reply_to="q1"),
        "status": classified("s1", "u3", "lovely day", "2026-12-01T10:00:00.000Z", intent="status"),
        "offer": classified("o1", "u3", "I can help with hops", "2026-12-01T10:00:00.000Z", intent="offer"),
        "no intent": {"post_id": "x1", "author_id": "u4"},
    }
    records = {name: rec(orjson.dumps(p)) for name, p in posts.items()}
    records.update({"not json": rec(b"{oops"), "not an object": rec(b"[1, 2]"), "tombstone": rec(None)})
    kept = maybe_routed(list(records.values()))
    assert [name for name, r in records.items() if r in kept] == [
        "request", "goal", "no intent", "not json", "not an object", "tombstone"]  # the bad ones, to dead-letter
