"""The wave rules (services/match/waves.py): who is asked, in which wave, when the next is due."""
import pytest

from services.core.contracts import Candidate, ClassifiedPost, Match, Notification
from services.match.waves import Step, WavePolicy, choose, due_step, next_wave_at, notification_id, notifications, wave_match

POLICY = WavePolicy(size=3, after_s=600, max_waves=3)


def cands(*ids):
    return [Candidate(h, 10.0 - i, [f"reason of {h}"]) for i, h in enumerate(ids)]


def test_notification_ids_are_deterministic_and_differ_by_post_helper_and_wave():
    assert notification_id("p", "h", 1) == notification_id("p", "h", 1)
    ids = {notification_id(p, h, w) for p in ("p", "q") for h in ("h", "i") for w in (1, 2)}
    assert len(ids) == 8
    assert notification_id("p\x1fh", "", 1) != notification_id("p", "h\x1f", 1)  # no ambiguity by joining


def test_waves_follow_each_other_until_the_last():
    assert due_step(1, 0, POLICY) == Step(2, 3, new_wave=True)
    assert due_step(2, 0, POLICY) == Step(3, 3, new_wave=True)
    assert due_step(3, 0, POLICY) is None
    assert next_wave_at(1, 1000.0, POLICY) == 1600.0
    assert next_wave_at(3, 1000.0, POLICY) is None  # nothing after the last wave


def test_a_decline_is_replaced_within_its_wave_even_after_the_last_wave():
    assert due_step(1, 2, POLICY) == Step(1, 2, new_wave=False)
    assert due_step(3, 1, POLICY) == Step(3, 1, new_wave=False)


def test_choose_leaves_out_everyone_asked_before():
    ranked = cands("a", "b", "c", "d", "e")
    assert [c.helper_id for c in choose(ranked, {"a", "c"}, 2)] == ["b", "d"]
    assert [c.helper_id for c in choose(ranked, set(), 10)] == ["a", "b", "c", "d", "e"]


def test_one_notification_per_asked_helper_with_their_reasons():
    post = ClassifiedPost(post_id="p1", author_id="u", text="help", created_at="2026-12-07T10:00:00.000Z",
                          intent="request", confidence=0.9, scores={}, topics=["coffee"], model_version="m")
    ranked = cands("a", "b", "c", "d")
    match = wave_match(post, ranked, ranked[:2], 2, "2026-12-07T10:10:00.000Z", "r")
    assert isinstance(match, Match) and match.wave == 2 and match.asked == ["a", "b"] and match.asked_ids() == ["a", "b"]
    out = notifications(match, ranked[:2])
    assert all(isinstance(n, Notification) for n in out)
    assert [(n.helper_id, n.wave, n.reasons, n.notification_id) for n in out] == [
        ("a", 2, ["reason of a"], notification_id("p1", "a", 2)), ("b", 2, ["reason of b"], notification_id("p1", "b", 2))]
    assert Notification.from_json(out[0].to_json()) == out[0]


def test_a_match_without_asked_asked_every_candidate():
    m = Match(post_id="p", author_id="u", intent="goal", topics=[], candidates=cands("a", "b"),
              matched_at="2026-12-07T10:00:00.000Z", model_version="r")
    assert m.asked_ids() == ["a", "b"]


@pytest.mark.parametrize("bad", [dict(size=0), dict(max_waves=0), dict(after_s=-1)])
def test_a_policy_that_would_never_ask_is_refused(bad):
    with pytest.raises(ValueError):
        WavePolicy(**bad)


def test_the_golden_notification_carries_the_id_its_fields_give():
    import json
    from pathlib import Path
    golden = json.loads((Path(__file__).resolve().parents[2] / "services/core/golden/Notification.v1.json").read_text())
    assert golden["notification_id"] == notification_id(golden["post_id"], golden["helper_id"], golden["wave"])
