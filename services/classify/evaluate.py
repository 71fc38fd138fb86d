"""`goalpost eval classify --data FILE.jsonl`: score the intent classifier on labelled posts.

FILE lines are ``{"text": ..., "label": ..., "source"?: ...}``. The posts are classified with
``model.classify_batch`` — the same function the classify service calls — and the result is one
JSON-serialisable dict: ``macro_f1``, ``per_class`` {label: {precision, recall, f1}},
``per_source`` {source: accuracy}, ``confusion`` {true: {pred: n}}, ``n``, ``posts_per_s``, and
with 95% bootstrap confidence intervals (posts resampled with replacement, seeded):
``macro_f1_ci95`` and ``per_source_detail`` {source: {n, labels, accuracy, accuracy_ci95,
macro_f1, macro_f1_ci95}}, where a source's macro-F1 averages over the intents its posts have.
"""
from __future__ import annotations

import gc
import json
import time

import numpy as np

from services.classify import model as M

NO_SOURCE = "unknown"
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20261201


def read_jsonl(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{path}:{ln}: not JSON: {e}") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) \
                    or not isinstance(obj.get("label"), str):
                raise ValueError(f"{path}:{ln}: need string fields 'text' and 'label'")
            rows.append(obj)
    return rows


def score(golds: list[str], preds: list[str], sources: list[str] | None = None) -> dict:
    """Metrics over parallel gold/pred lists. Macro-F1 averages over the labels seen in gold
    or predictions (always including the four intents) — a class with no support and no
    predictions counts as neither right nor wrong and is left out."""
    labels = list(M.INTENTS)
    for x in list(golds) + list(preds):
        if x not in labels:
            labels.append(x)
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(golds, preds):
        confusion[g][p] += 1
    per_class = {}
    f1s = []
    for lab in labels:
        tp = confusion[lab][lab]
        fp = sum(confusion[g][lab] for g in labels) - tp
        fn = sum(confusion[lab].values()) - tp
        if tp + fp + fn == 0:
            continue
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[lab] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                          "support": tp + fn}
        f1s.append(f1)
    per_source: dict[str, float] = {}
    if sources is not None:
        tot: dict[str, list[int]] = {}
        for g, p, s in zip(golds, preds, sources):
            c = tot.setdefault(s, [0, 0])
            c[0] += g == p
            c[1] += 1
        per_source = {s: round(c[0] / c[1], 4) for s, c in sorted(tot.items())}
    n = len(golds)
    return {
        "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        "accuracy": round(sum(g == p for g, p in zip(golds, preds)) / n, 4) if n else 0.0,
        "per_class": per_class,
        "per_source": per_source,
        "confusion": {g: {p: c for p, c in row.items() if c} for g, row in confusion.items() if any(row.values())},
        "n": n,
    }


def _f1s(gold: np.ndarray, pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """F1 of each label in ``labels`` for every row of (resampled) gold/pred index arrays."""
    out = np.empty((gold.shape[0], len(labels)))
    for j, lab in enumerate(labels):
        tp = ((gold == lab) & (pred == lab)).sum(axis=1)
        fp = ((gold != lab) & (pred == lab)).sum(axis=1)
        fn = ((gold == lab) & (pred != lab)).sum(axis=1)
        den = 2 * tp + fp + fn
        out[:, j] = np.where(den > 0, 2 * tp / np.maximum(den, 1), np.nan)
    return out


def _ci(x: np.ndarray) -> list[float]:
    lo, hi = np.nanpercentile(x, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def bootstrap(golds: list[str], preds: list[str], sources: list[str],
              resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """95% percentile intervals of macro-F1 (overall and per source) and per-source accuracy.
    Overall macro-F1 is over the labels of ``score`` (a label absent from a resample counts as
    neither right nor wrong); a source's over the intents its posts have."""
    labels = list(M.INTENTS) + sorted(set(golds) | set(preds) - set(M.INTENTS))
    ix = {lab: i for i, lab in enumerate(labels)}
    g = np.array([ix[x] for x in golds], dtype=np.int64)
    p = np.array([ix[x] for x in preds], dtype=np.int64)
    rng = np.random.default_rng(seed)
    out: dict = {"resamples": resamples, "seed": seed}
    if not len(g):
        return out
    draw = rng.integers(0, len(g), size=(resamples, len(g)))
    out["macro_f1_ci95"] = _ci(np.nanmean(_f1s(g[draw], p[draw], np.arange(len(labels))), axis=1))
    src = np.array(sources)
    detail = {}
    for s in sorted(set(sources)):
        gs, ps = g[src == s], p[src == s]
        present = np.unique(gs)
        d = rng.integers(0, len(gs), size=(resamples, len(gs)))
        acc = (gs[d] == ps[d]).mean(axis=1)
        f1 = np.nanmean(_f1s(gs[None, :], ps[None, :], present), axis=1)[0]
        f1b = np.nanmean(_f1s(gs[d], ps[d], present), axis=1)
        detail[s] = {"n": int(len(gs)), "labels": [labels[i] for i in present],
                     "accuracy": round(float((gs == ps).mean()), 4), "accuracy_ci95": _ci(acc),
                     "macro_f1": round(float(f1), 4), "macro_f1_ci95": _ci(f1b)}
    out["per_source_detail"] = detail
    return out


def evaluate(path: str) -> dict:
    rows = read_jsonl(path)
    texts = [r["text"] for r in rows]
    tags: list[list[str]] = [r["tags"] if isinstance(r.get("tags"), list) else [] for r in rows]
    M._get_model()  # load the artefact outside the timed section
    gc.freeze()  # as the service does after loading: the model's objects live for the whole process
    t0 = time.perf_counter()
    results = M.classify_batch(texts, tags)
    dt = time.perf_counter() - t0
    golds, preds = [r["label"] for r in rows], [c.intent for c in results]
    sources = [str(r.get("source") or NO_SOURCE) for r in rows]
    out = score(golds, preds, sources)
    ci = bootstrap(golds, preds, sources)
    out["macro_f1_ci95"] = ci.get("macro_f1_ci95")
    out["per_source_detail"] = ci.get("per_source_detail", {})
    out["bootstrap"] = {"resamples": ci["resamples"], "seed": ci["seed"]}
    out["posts_per_s"] = round(len(rows) / dt, 1) if dt > 0 else float(len(rows))
    out["model_version"] = M.MODEL_VERSION
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="goalpost eval classify")
    ap.add_argument("--data", required=True)
    args = ap.parse_args(argv)
    print(json.dumps(evaluate(args.data)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
