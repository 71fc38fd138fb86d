"""Fit the intent model with scikit-learn and export it as the JSON artefact ``model.py`` reads."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

from services.classify.features import encode, extract
from services.classify.model import ARTEFACT_FORMAT, INTENTS, MODEL_VERSION

# Expected share of each intent in a feed (chit-chat is the most common); the training corpus is
# near balanced, so the intercepts are moved from its class shares to these.
DEPLOYMENT_PRIORS = {"goal": 0.23, "request": 0.23, "offer": 0.23, "status": 0.31}


@dataclass(frozen=True)
class Config:
    C: float = 1.0           # inverse L2 strength of the logistic regression
    cue_value: float = 0.25  # value of each cue feature; 0 leaves the cues out
    min_df: int = 2          # a feature must occur in this many training posts
    hand_weight: float = 3.0  # sample weight of the hand-written posts


def featurise(texts: list[str]) -> list[tuple[list[str], list[str]]]:
    return [extract(t) for t in texts]


def vocabulary(feats: list[tuple[list[str], list[str]]], cfg: Config) -> dict:
    df: Counter = Counter()
    for lex, cue in feats:
        df.update(set(lex))
        if cfg.cue_value:
            df.update(set(cue))
    keep = sorted(k for k, c in df.items() if c >= cfg.min_df)
    return {k: i for i, k in enumerate(keep)}


def matrix(feats: list[tuple[list[str], list[str]]], vocab: dict, cue_value: float) -> csr_matrix:
    rows = [encode(lex, cue, vocab, cue_value) for lex, cue in feats]
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(i) for i, _ in rows], out=indptr[1:])
    x = csr_matrix((np.fromiter((v for _, vs in rows for v in vs), dtype=np.float64),
                    np.fromiter((j for i, _ in rows for j in i), dtype=np.int64), indptr),
                   shape=(len(rows), len(vocab)))
    x.sum_duplicates()
    return x


@dataclass
class Fitted:
    vocab: dict
    coef: np.ndarray       # (n_features, 4) in INTENTS order
    intercept: np.ndarray  # (4,)
    cfg: Config

    def proba(self, feats: list[tuple[list[str], list[str]]]) -> np.ndarray:
        z = matrix(feats, self.vocab, self.cfg.cue_value) @ self.coef + self.intercept
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def fit(feats: list[tuple[list[str], list[str]]], labels: list[str], weights: list[float], cfg: Config,
        priors: dict[str, float] | None = DEPLOYMENT_PRIORS) -> Fitted:
    vocab = vocabulary(feats, cfg)
    x = matrix(feats, vocab, cfg.cue_value)
    y = np.array([INTENTS.index(lab) for lab in labels])
    w = np.asarray(weights, dtype=np.float64)
    clf = LogisticRegression(C=cfg.C, max_iter=2000, tol=1e-4)  # lbfgs, multinomial: deterministic
    clf.fit(x, y, sample_weight=w)
    if list(clf.classes_) != list(range(len(INTENTS))):
        raise ValueError("every intent needs training posts")
    intercept = clf.intercept_.astype(np.float64).copy()
    if priors:
        share = np.bincount(y, weights=w, minlength=len(INTENTS)) / w.sum()
        intercept += np.log([priors[lab] for lab in INTENTS]) - np.log(share)
    return Fitted(vocab, clf.coef_.T.astype(np.float64).copy(), intercept, cfg)


def export(m: Fitted, training: dict) -> dict:
    """The artefact: feature names (as features.extract gives them), one rounded row of coefficients
    each; rows that round to zero are left out (they change no score)."""
    names, rows = [], []
    for name, i in sorted(m.vocab.items()):
        row = [round(float(v), 4) for v in m.coef[i]]
        if any(row):
            names.append(name)
            rows.append(row)
    return {"format": ARTEFACT_FORMAT, "model_version": MODEL_VERSION, "labels": list(INTENTS),
            "cue_value": m.cfg.cue_value, "intercept": [round(float(v), 6) for v in m.intercept],
            "features": names, "coef": rows, "config": asdict(m.cfg), "training": training}


def macro_f1(gold: list[str], pred: list[str], labels: tuple[str, ...] | None = None) -> float:
    """Mean F1 over ``labels`` (default: those in gold or pred)."""
    labs = labels or tuple(sorted(set(gold) | set(pred)))
    f1s = []
    for lab in labs:
        tp = sum(g == p == lab for g, p in zip(gold, pred))
        fp = sum(p == lab != g for g, p in zip(gold, pred))
        fn = sum(g == lab != p for g, p in zip(gold, pred))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s) if f1s else 0.0


def log_loss(proba: np.ndarray, labels: list[str]) -> float:
    y = [INTENTS.index(lab) for lab in labels]
    return -sum(math.log(max(proba[k, c], 1e-12)) for k, c in enumerate(y)) / max(len(y), 1)
