"""Intent classifier for Goalpost posts: a linear model over sparse features.

The features are ``features.py``'s (words, bigrams, hashtags, first words, linguistic cues); the
weights are ``artefact/intent_model.json`` (plain JSON: feature names, a coefficient row per
feature, the intercepts), written by ``python -m services.classify.training.train`` from the
project's own data. A batch is read and scored by the native core (``services/classify/native``:
features, topics and the softmax per post, in Rust). Inference never imports the training code.

Public interface (used by the classify service and ``goalpost eval classify``)::

    MODEL_VERSION: str
    Classification(intent, confidence, scores, topics)
    classify(text, tags=None) -> Classification
    classify_batch(texts, tags=None) -> list[Classification]
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field

import numpy as np
from goalpost_classify_native import MAX_TOPICS, IntentScorer, normalise_tag, topics  # noqa: F401 (API)

from services.classify.features import encode, extract, features  # noqa: F401 (API)

MODEL_VERSION = "intent-sk-2026.12.1"
INTENTS: tuple[str, ...] = ("goal", "request", "offer", "status")
ARTEFACT_FORMAT = "goalpost-intent-linear/1"
ARTEFACT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artefact", "intent_model.json")


@dataclass(frozen=True)
class Classification:
    intent: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LinearModel:
    vocab: dict            # feature name -> row of coef
    coef: np.ndarray       # (n_features, n_labels), float64
    intercept: np.ndarray  # (n_labels,)
    labels: tuple[str, ...]
    cue_value: float
    model_version: str
    scorer: IntentScorer   # the same weights, in the native core


def load_artefact(path: str = ARTEFACT_PATH) -> LinearModel:
    with open(path, "rb") as f:
        data = json.loads(f.read())
    if data.get("format") != ARTEFACT_FORMAT:
        raise ValueError(f"{path}: not a {ARTEFACT_FORMAT} artefact")
    labels = tuple(data["labels"])
    if sorted(labels) != sorted(INTENTS):
        raise ValueError(f"{path}: labels must be the four intents")
    names = data["features"]
    coef = np.asarray(data["coef"], dtype=np.float64).reshape(len(names), len(labels))
    intercept = np.asarray(data["intercept"], dtype=np.float64)
    cue_value = float(data["cue_value"])
    return LinearModel(vocab={n: i for i, n in enumerate(names)}, coef=coef, intercept=intercept, labels=labels,
                       cue_value=cue_value, model_version=str(data["model_version"]),
                       scorer=IntentScorer(names, coef.ravel().tolist(), intercept.tolist(), cue_value))


_lock = threading.Lock()
_model: LinearModel | None = None


def _get_model() -> LinearModel:
    global _model
    m = _model
    if m is None:
        with _lock:
            if _model is None:
                _model = load_artefact()
            m = _model
    return m


def reset_model_cache() -> None:
    global _model
    with _lock:
        _model = None


def classify_batch(texts: list[str], tags: list[list[str]] | None = None) -> list[Classification]:
    if tags is not None and len(tags) != len(texts):
        raise ValueError("tags must have one list per text")
    if not texts:
        return []
    m = _get_model()
    labels = m.labels
    clean = [t if isinstance(t, str) else ("" if t is None else str(t)) for t in texts]
    tag_lists = [[g for g in (tg or ()) if isinstance(g, str)] for tg in tags] if tags is not None else [[] for _ in texts]
    out: list[Classification] = []
    for best, p, tp in m.scorer.classify(clean, tag_lists):
        if best is None:  # nothing to read: "status" is the catch-all intent
            out.append(Classification("status", 1.0, {lab: float(lab == "status") for lab in labels}, tp))
        else:
            out.append(Classification(labels[best], p[best], dict(zip(labels, p)), tp))
    return out


def classify(text: str, tags: list[str] | None = None) -> Classification:
    return classify_batch([text], None if tags is None else [tags])[0]
