"""Unit tests of the intent classifier logic (services/classify/model.py, evaluate.py, train.py)."""
from __future__ import annotations

import json
import math

import pytest

from services.classify import model as M
from services.classify.evaluate import evaluate, score

INTENTS = {"goal", "request", "offer", "status"}


# ---------------------------------------------------------------- obvious examples per intent

@pytest.mark.parametrize("text", [
    "I want to run a marathon this year",
    "New year's resolution: quit smoking and save more money",
    "This year I will finally learn to play the guitar #goals",
    "Going to lose 20 pounds by summer, no excuses",
])
def test_obvious_goals(text):
    assert M.classify(text).intent == "goal"


@pytest.mark.parametrize("text", [
    "How do I get started with sourdough? Any tips for a beginner?",
    "Can anyone recommend a good burr grinder under $100?",
    "Why does my espresso taste sour? I use a light roast and grind fine. What am I doing wrong?",
    "Please donate to the Red Cross to help the flood victims, text REDCROSS to 90999",
])
def test_obvious_requests(text):
    assert M.classify(text).intent == "request"


@pytest.mark.parametrize("text", [
    "You can fix a sour espresso by grinding finer and using water just off the boil. "
    "In my experience the grind size matters more than the beans.",
    "I'd recommend a burr grinder; blade grinders give an uneven grind, which makes the extraction unpredictable.",
    "We are offering free hot meals and phone charging at the community center for anyone affected by the storm",
    "The bitterness mostly depends on the hops and how long they are boiled. "
    "For example, adding them late gives aroma without much bitterness.",
])
def test_obvious_offers(text):
    assert M.classify(text).intent == "offer"


@pytest.mark.parametrize("text", [
    "lol",
    "hi everyone",
    "bye all, off to bed",
    "just got back from the mall, so tired",
    "Power's out again, stay safe everyone #storm",
    "watching the game with my brother",
])
def test_obvious_status(text):
    assert M.classify(text).intent == "status"


# ---------------------------------------------------------------- output contract

@pytest.mark.parametrize("text", ["", "   ", "\n\t", "?", "#", "http://t.co/abc", "🙂🙂🙂", "a" * 10000,
                                  "I want to learn Python " * 200])
def test_contract_holds_for_odd_inputs(text):
    c = M.classify(text)
    assert c.intent in INTENTS
    assert 0.0 <= c.confidence <= 1.0
    assert set(c.scores) == INTENTS
    assert math.isclose(sum(c.scores.values()), 1.0, abs_tol=1e-6)
    assert all(0.0 <= p <= 1.0 for p in c.scores.values())
    assert c.confidence == max(c.scores.values())
    assert c.scores[c.intent] == c.confidence
    assert isinstance(c.topics, list) and len(c.topics) <= M.MAX_TOPICS


def test_empty_and_whitespace_are_status():
    for t in ["", "   ", "\n"]:
        c = M.classify(t)
        assert c.intent == "status"
        assert c.topics == []


def test_none_text_does_not_crash():
    assert M.classify(None).intent == "status"  # type: ignore[arg-type]


def test_deterministic():
    text = "Anyone know a good book about teaching calculus? #math"
    a = M.classify(text, ["Math Education"])
    b = M.classify(text, ["Math Education"])
    assert a == b
    assert M.classify_batch([text, text]) == [M.classify(text), M.classify(text)]


def test_batch_matches_single_and_keeps_order():
    texts = ["I want to learn Spanish", "How do I learn Spanish?", "hi all", ""]
    tags = [["spanish"], [], None, ["x"]]
    batch = M.classify_batch(texts, tags)
    assert [c.intent for c in batch] == [M.classify(t, g).intent for t, g in zip(texts, tags)]
    assert len(M.classify_batch([])) == 0
    with pytest.raises(ValueError):
        M.classify_batch(["a", "b"], [["x"]])


def test_model_version_and_classification_is_frozen():
    assert isinstance(M.MODEL_VERSION, str) and M.MODEL_VERSION
    c = M.classify("hello")
    with pytest.raises(Exception):
        c.intent = "goal"  # type: ignore[misc]


# ---------------------------------------------------------------- topics

def test_topics_tags_and_hashtags_normalised():
    c = M.classify("How do I keep my #Sourdough starter alive? #baking #Baking", ["Home Brewing", "home brewing", " Bread_Making "])
    assert c.topics[:3] == ["home-brewing", "bread-making", "sourdough"]
    assert "baking" in c.topics
    assert len(c.topics) == len(set(c.topics))
    assert all(t == t.lower() and " " not in t for t in c.topics)


def test_topics_keywords_skip_stopwords_and_stem():
    topics = M.topics("What is the best way to store coffee beans? My beans go stale within a week.")
    assert "bean" in topics and "coffee" in topics and "stale" in topics
    for stop in ("what", "the", "best", "way", "my", "is"):
        assert stop not in topics


def test_topics_phrase_and_limit():
    topics = M.topics("cold brew cold brew cold brew is great; how long should cold brew steep?")
    assert "cold-brew" in topics
    long = " ".join(f"word{i}x topic{i}y" for i in range(50))
    assert len(M.topics(long)) <= M.MAX_TOPICS


def test_topics_ignore_urls_and_mentions():
    topics = M.topics("RT @someone: great article on espresso https://t.co/abcdef")
    assert "espresso" in topics
    assert not any("http" in t or "someone" in t or "abcdef" in t for t in topics)


def test_normalise_tag():
    assert M.normalise_tag("  Home Brewing ") == "home-brewing"
    assert M.normalise_tag("#Sourdough") == "sourdough"
    assert M.normalise_tag("C++") == "c++"
    assert M.normalise_tag("") == ""


# ---------------------------------------------------------------- features

def test_features_cues():
    f = set(M.features("RT @bob: I'll try to lose 20 lbs in 2015 #resolution lol :) http://t.co/x"))
    assert {"h:resolution", "r:future", "r:goalw", "r:rt", "r:url", "r:mention", "r:chat", "r:emoticon"} <= f
    assert "f:i'll" in f  # first word skips the RT/mention prefix
    q = set(M.features("Is it safe to brew old coffee? I found a package."))
    assert {"r:q", "r:q_early", "r:first_sent_q", "r:wh_start"} <= q


# ---------------------------------------------------------------- evaluate()

def _write(tmp_path, rows):
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(p)


def test_score_macro_f1_by_hand():
    gold = ["goal", "goal", "request", "offer", "status", "status"]
    pred = ["goal", "status", "request", "request", "status", "status"]
    d = score(gold, pred, ["a", "a", "b", "b", "b", "a"])
    # goal: p=1 r=.5 f=2/3 ; request: p=.5 r=1 f=2/3 ; offer: p=0 r=0 f=0 ; status: p=2/3 r=1 f=.8
    assert d["macro_f1"] == round((2 / 3 + 2 / 3 + 0 + 0.8) / 4, 4)
    assert d["per_class"]["status"]["precision"] == round(2 / 3, 4)
    assert d["per_class"]["offer"]["f1"] == 0.0
    assert d["per_source"] == {"a": round(2 / 3, 4), "b": round(2 / 3, 4)}
    assert d["confusion"]["goal"] == {"goal": 1, "status": 1}
    assert d["n"] == 6


def test_evaluate_on_tiny_file_matches_hand_computation(tmp_path):
    rows = [
        {"text": "I want to run a marathon this year", "label": "goal", "source": "x"},
        {"text": "How do I get started with sourdough? Any tips?", "label": "request", "source": "x"},
        {"text": "lol", "label": "status", "source": "y"},
        {"text": "hi everyone", "label": "offer"},  # will be predicted status: a known error
    ]
    preds = [c.intent for c in M.classify_batch([r["text"] for r in rows])]
    assert preds == ["goal", "request", "status", "status"]
    d = evaluate(_write(tmp_path, rows))
    # goal f1=1, request f1=1, offer f1=0 (1 FN), status p=.5 r=1 f1=2/3
    assert d["macro_f1"] == round((1 + 1 + 0 + 2 / 3) / 4, 4)
    assert d["n"] == 4
    assert d["per_source"] == {"x": 1.0, "y": 1.0, "unknown": 0.0}
    assert d["confusion"]["offer"] == {"status": 1}
    assert d["posts_per_s"] > 0
    assert set(d) >= {"macro_f1", "per_class", "per_source", "confusion", "n", "posts_per_s"}
    json.dumps(d)


def test_evaluate_rejects_bad_lines(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "hi"}\n', encoding="utf-8")
    with pytest.raises(ValueError):
        evaluate(str(p))


# ---------------------------------------------------------------- training data and training

def test_generator_is_deterministic_and_labelled():
    from services.classify.training.generate import generate
    a = generate(seed=3, per_label=50)
    b = generate(seed=3, per_label=50)
    assert a == b
    assert {lab for _, lab, _ in a} == INTENTS
    assert all(isinstance(t, str) and t.strip() for t, _, _ in a)


def test_handwritten_file_parses():
    from services.classify.train import load_handwritten
    rows = load_handwritten()
    assert len(rows) > 100
    assert {lab for _, lab in rows} == INTENTS


def test_tiny_training_run_learns(tmp_path):
    from services.classify.train import train
    data = [("I want to learn guitar", "goal"), ("I will run a marathon", "goal"),
            ("How do I tune a guitar?", "request"), ("Any tips for running?", "request"),
            ("You can tune it with an app", "offer"), ("Try running slower, it helps", "offer"),
            ("lol hi", "status"), ("watching tv", "status")] * 5
    art = train(data, epochs=5, min_count=1, log=lambda m: None)
    assert art["labels"] == ["goal", "request", "offer", "status"]
    assert art["weights"] and all(len(w) == 4 for w in art["weights"].values())
    path = tmp_path / "m.json"
    path.write_text(json.dumps(art))
    weights, bias, labels = M.load_artefact(str(path))
    probs = M._scores("How do I tune a guitar?", M._normalise("How do I tune a guitar?"), weights, bias)
    assert labels[max(range(4), key=lambda i: probs[i])] == "request"
