"""`goalpost eval asks` (services/match/eval_asks.py): the wave rules replayed on a file's clock."""
from dataclasses import replace
from pathlib import Path

import pytest

from services.match.eval_asks import TEN_AT_ONCE, simulate
from services.match.evaluate import eval_config, evaluate, load_events
from services.match.ranking import MatchConfig
from services.match.waves import WavePolicy

SE = Path(__file__).resolve().parents[3] / "shared" / "data" / "se"


def at(s: int) -> str:
    return f"2024-01-01T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}Z"


def post(pid, author, when, reply_to=None, text="how do I brew kombucha at home"):
    return {"type": "post", "post_id": pid, "author_id": author, "text": text, "created_at": at(when),
            "reply_to": reply_to, "tags": ["kombucha"]}


Q = 20000  # the question under test, after every earlier post's waves are over


def history():
    """a answered three kombucha questions, b one: a ranks first, b second."""
    out = []
    for i, helper in enumerate(["a", "a", "a", "b"]):
        out += [post(f"old{i}", f"asker{i}", 4000 * i), post(f"ans{i}", helper, 4000 * i + 5, f"old{i}")]
    return out


def test_a_helper_ranked_second_is_reached_by_the_second_wave_and_answers_when_asked():
    events = history() + [post("q", "asker", Q), post("r", "b", Q + 300, "q")]
    policy = WavePolicy(size=1, after_s=600, max_waves=3)
    out, hist = simulate(events, policy), simulate(history(), policy)
    assert (out["roots"], out["answered_roots"]) == (5, 5) and simulate(events, policy) == out  # deterministic
    # q: wave 1 asks a (silent); wave 2, at Q+600, asks b, who answered at Q+300: b answers when
    # asked, and no third wave follows
    assert out["reached"] * 5 - hist["reached"] * 4 == pytest.approx(1)
    assert out["waves_per_root"] * 5 - hist["waves_per_root"] * 4 == pytest.approx(2)
    one_wave = simulate(events, WavePolicy(size=1, after_s=600, max_waves=1))
    assert one_wave["reached"] * 5 == pytest.approx(simulate(history(), WavePolicy(1, 600, 1))["reached"] * 4)


def test_a_reply_to_a_post_in_its_waves_does_not_teach_the_ranking_of_its_next_wave():
    # c never answered before: their answer to q, were it applied before the second wave,
    # would make c the best candidate for q itself and "reach" q.
    events = history() + [post("q", "asker", Q), post("r", "c", Q + 100, "q")]
    out = simulate(events, WavePolicy(size=1, after_s=600, max_waves=3))
    history_only = simulate(history(), WavePolicy(size=1, after_s=600, max_waves=3))
    assert out["reached"] * 5 == pytest.approx(history_only["reached"] * 4)  # q is not reached


def test_ten_at_once_without_learning_from_asks_reaches_what_eval_match_hits_in_its_top_ten():
    path = SE / "coffee.jsonl"
    no_ask_terms = eval_config(replace(MatchConfig(), w_available=0.0, routed_help_weight=0.0))
    ten = simulate(load_events(str(path)), TEN_AT_ONCE, no_ask_terms)
    assert ten["reached"] == evaluate(str(path), no_ask_terms)["all"]["hit@10"]
    assert ten["waves_per_root"] == 1.0 and ten["notifications_per_root"] <= 10


def test_waves_stop_once_an_asked_helper_answers():
    events = history() + [post("q", "asker", Q), post("r", "a", Q + 50, "q")]
    out = simulate(events, WavePolicy(size=1, after_s=600, max_waves=3))
    hist = simulate(history(), WavePolicy(size=1, after_s=600, max_waves=3))
    # q: a asked at once and answering within the wait: one wave, one notification
    assert out["roots"] * out["waves_per_root"] - hist["roots"] * hist["waves_per_root"] == pytest.approx(1)
    assert out["roots"] * out["notifications_per_root"] - hist["roots"] * hist["notifications_per_root"] == pytest.approx(1)
