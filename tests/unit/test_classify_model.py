"""Unit tests of the intent classifier (services/classify: model.py, evaluate.py, reclassify.py, training/)."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import math

import numpy as np
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
    with pytest.raises(dataclasses.FrozenInstanceError):
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


# ---------------------------------------------------------------- artefact and inference

def test_artefact_loads_and_matches_the_code():
    m = M.load_artefact()
    assert m.labels == M.INTENTS
    assert m.model_version == M.MODEL_VERSION
    assert m.coef.shape == (len(m.vocab), 4)
    assert m.cue_value > 0 and ("r:bias" in m.vocab)
    assert np.isfinite(m.coef).all() and np.isfinite(m.intercept).all()


def test_artefact_is_plain_json(tmp_path):
    with open(M.ARTEFACT_PATH, "rb") as f:
        assert f.read(1) == b"{"  # JSON, not a pickle
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError):
        M.load_artefact(str(bad))


def test_batch_scores_equal_single_scores_exactly():
    texts = ["I want to learn Spanish this year", "How do I learn Spanish?",
             "You can learn it with an app, it worked for me", "hi all", "", "lol " * 300]
    batch = M.classify_batch(texts)
    for t, b in zip(texts, batch):
        assert M.classify(t) == b  # scores too: a post's row does not depend on its batch


def test_scores_come_from_the_artefact(tmp_path):
    """A hand-made artefact: one feature that pushes to 'offer' decides the intent."""
    art = {"format": M.ARTEFACT_FORMAT, "model_version": "test", "labels": list(M.INTENTS), "cue_value": 0.5,
           "intercept": [0, 0, 0, 1.0], "features": ["w:zebra"], "coef": [[0, 0, 9.0, 0]]}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(art))
    m = M.load_artefact(str(path))
    (best0, p0, _), (best1, p1, _) = m.scorer.classify(["zebra", "horse"], [[], []])
    assert best0 == M.INTENTS.index("offer") and best1 == M.INTENTS.index("status")
    assert np.allclose([sum(p0), sum(p1)], 1.0)
    # no known feature: the intercepts alone
    assert math.isclose(p1[3], math.exp(1) / (3 + math.exp(1)), rel_tol=1e-9)


# ---------------------------------------------------------------- evaluation CI

def test_bootstrap_intervals_hold_the_point_estimate():
    from services.classify.evaluate import bootstrap
    gold = ["goal"] * 40 + ["request"] * 40 + ["status"] * 40
    pred = ["goal"] * 36 + ["status"] * 4 + ["request"] * 30 + ["offer"] * 10 + ["status"] * 40
    src = ["a"] * 80 + ["b"] * 40
    ci = bootstrap(gold, pred, src, resamples=300)
    d = score(gold, pred, src)
    lo, hi = ci["macro_f1_ci95"]
    assert lo <= d["macro_f1"] <= hi and hi - lo < 0.3
    b = ci["per_source_detail"]["b"]
    assert b["labels"] == ["status"] and b["accuracy"] == 1.0 and b["accuracy_ci95"] == [1.0, 1.0]
    a = ci["per_source_detail"]["a"]
    assert a["n"] == 80 and a["accuracy"] == round(66 / 80, 4)
    assert a["accuracy_ci95"][0] < a["accuracy"] < a["accuracy_ci95"][1]
    assert bootstrap(gold, pred, src, resamples=300) == ci  # seeded


# ---------------------------------------------------------------- training data and training

def test_training_data_parses_with_every_intent_and_family():
    from services.classify.training import corpus
    ex = corpus.load()
    assert len(ex) > 20000
    assert {e.label for e in ex} == INTENTS
    assert {"forum", "chat", "tweet", "disaster", "handwritten"} <= {e.family for e in ex}
    assert all(e.text.strip() for e in ex)


def test_training_data_bad_line_is_refused(tmp_path):
    from services.classify.training import corpus
    (tmp_path / "x.tsv").write_text("goal\tI will run\nmaybe\tnot a label\n", encoding="utf-8")
    with pytest.raises(ValueError):
        corpus.load(str(tmp_path))


TINY = [("I want to learn guitar", "goal"), ("I will run a marathon", "goal"),
        ("How do I tune a guitar?", "request"), ("Any tips for running?", "request"),
        ("You can tune it with an app", "offer"), ("Try running slower, it helps", "offer"),
        ("lol hi", "status"), ("watching tv", "status")] * 5


def _tiny_artefact():
    from services.classify.training.fit import Config, export, featurise, fit
    texts, labels = zip(*TINY)
    m = fit(featurise(list(texts)), list(labels), [1.0] * len(TINY), Config(C=10.0, min_df=1))
    return export(m, {"posts": len(TINY)})


def test_tiny_training_run_learns_and_is_deterministic(tmp_path):
    art = _tiny_artefact()
    assert json.dumps(art, sort_keys=True) == json.dumps(_tiny_artefact(), sort_keys=True)
    assert art["labels"] == list(M.INTENTS) and all(len(r) == 4 for r in art["coef"])
    path = tmp_path / "m.json"
    path.write_text(json.dumps(art))
    m = M.load_artefact(str(path))
    scored = m.scorer.classify(["How do I tune a guitar?", "lol hi"], [[], []])
    assert [M.INTENTS[best] for best, _, _ in scored] == ["request", "status"]


def test_leave_one_family_out_never_trains_on_the_family_it_scores(monkeypatch):
    from services.classify.training import corpus, select
    from services.classify.training.fit import Config, featurise
    ex = [corpus.Example(t, lab, fam, "synthetic") for fam in ("a", "b") for t, lab in TINY]
    seen = []
    real_fit = select.fit

    def spy(feats, labels, weights, cfg):
        seen.append(len(feats))
        return real_fit(feats, labels, weights, cfg)

    monkeypatch.setattr(select, "fit", spy)
    res = select.leave_one_family_out(ex, featurise([e.text for e in ex]), Config(C=10.0, min_df=1))
    assert seen == [len(TINY), len(TINY)]  # each fold trains on the other family only
    assert set(res["per_family"]) == {"a", "b"} and 0 <= res["macro_f1"] <= 1


def test_runtime_path_does_not_import_training_or_sklearn():
    import subprocess
    import sys
    code = ("import sys; import services.classify.model as m; m.classify('hi there');"
            "print(any(k.startswith(('sklearn', 'services.classify.training')) for k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- reclassify

def test_reclassify_keeps_ids_and_sealed_texts_and_sets_the_model_version():
    from services.classify.app import classify_posts
    from services.classify.reclassify import decode
    raw = [json.dumps({"post_id": "p1", "author_id": "u1", "text": "gp1:sealed", "created_at": "2026-12-01T00:00:00Z",
                       "tags": ["Baking"]}).encode(),
           json.dumps({"post_id": "p2", "author_id": "u2", "text": "thanks!", "created_at": "2026-12-01T00:00:01Z",
                       "reply_to": "p1"}).encode(),
           b"not json", None]
    posts, bad = decode(raw, include_replies=False)
    assert [p.post_id for p in posts] == ["p1"] and bad == 2
    assert [p.post_id for p in decode(raw, include_replies=True)[0]] == ["p1", "p2"]
    async def opened(ps):  # a stand-in for the key ring: the clear text of the sealed one
        for p in ps:
            p.text = "How do I get started with sourdough? Any tips?"
        return ps
    (rec,) = asyncio.run(classify_posts(opened).handle(posts))
    assert rec.post_id == "p1" and rec.key() == b"u1" and rec.topic == "posts.classified.v1"
    assert rec.text == "gp1:sealed"  # sent on as it came
    assert rec.intent == "request" and rec.model_version == M.MODEL_VERSION
    assert rec.topics[0] == "baking"


def test_tokens_dots_apostrophes_numbers_and_hashtags():
    lex, cue = M.extract("Don\u2019t wait.. go... #2015 #Run4fun rock'n'roll 42")
    assert [f[2:] for f in lex if f.startswith("w:")] == [
        "don't", "wait", ".", ".", "go", "...", "_year_", "_alnum_", "rock'n'roll", "_num_"]
    assert {"h:2015", "h:run4fun", "f:don't", "f2:don't wait", "b:<s> don't", "b:_num_ </s>"} <= set(lex)
    assert "b:wait go" in lex  # bigrams skip the soft punctuation
    assert "r:hash1" in cue and cue[-1] == "r:bias"
