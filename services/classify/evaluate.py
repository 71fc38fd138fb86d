"""`goalpost eval classify --data FILE.jsonl`: score the intent classifier on labelled posts.

FILE lines are ``{"text": ..., "label": ..., "source"?: ...}``. The posts are classified with
``model.classify_batch`` — the same function the classify service calls — and the result is one
JSON-serialisable dict: ``macro_f1``, ``per_class`` {label: {precision, recall, f1}},
``per_source`` {source: accuracy}, ``confusion`` {true: {pred: n}}, ``n``, ``posts_per_s``.
"""
from __future__ import annotations

import gc
import json
import time

from services.classify import model as M

NO_SOURCE = "unknown"


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


def evaluate(path: str) -> dict:
    rows = read_jsonl(path)
    texts = [r["text"] for r in rows]
    tags = [r.get("tags") if isinstance(r.get("tags"), list) else [] for r in rows]
    M._get_model()  # load the artefact outside the timed section
    gc.freeze()  # as the service does after loading: the model's objects live for the whole process
    t0 = time.perf_counter()
    results = M.classify_batch(texts, tags)
    dt = time.perf_counter() - t0
    out = score([r["label"] for r in rows], [c.intent for c in results],
                [str(r.get("source") or NO_SOURCE) for r in rows])
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
