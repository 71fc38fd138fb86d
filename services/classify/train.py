"""Rebuild the intent model artefact from the project's own training data.

    python -m services.classify.train [--out PATH] [--per-label N] [--epochs E]

Training data (all written by the Goalpost project, see training/README.md):
  * training/generate.py   — template generator, deterministic for a fixed seed
  * training/handwritten.tsv — hand-written examples, `label<TAB>text` per line (weighted higher)

Model: multinomial logistic regression on binary, L2-normalised sparse features
(``model.features``), trained with plain SGD + L2 in pure Python. Deterministic: fixed seeds,
fixed iteration order; the artefact is byte-identical between runs on the same Python.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

from services.classify import model as M
from services.classify.training.generate import generate

HERE = os.path.dirname(os.path.abspath(__file__))
HANDWRITTEN = os.path.join(HERE, "training", "handwritten.tsv")
LABELS = M.INTENTS
# Expected share of each intent among posts in production (status, i.e. chit-chat, is the most
# common); used to correct the bias of a model trained on a balanced corpus.
DEPLOYMENT_PRIORS = {"goal": 0.23, "request": 0.23, "offer": 0.23, "status": 0.31}


def load_handwritten(path: str = HANDWRITTEN) -> list[tuple[str, str]]:
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            label, _, text = line.partition("\t")
            label = label.strip()
            if label not in LABELS or not text.strip():
                raise ValueError(f"{path}:{ln}: bad line {line!r}")
            rows.append((text.replace("\\n", "\n"), label))
    return rows


def build_corpus(per_label: int, hand_weight: int) -> list[tuple[str, str]]:
    data = [(t, lab) for t, lab, _ in generate(per_label=per_label)]
    hand = load_handwritten()
    data.extend(hand * hand_weight)
    return data


def train(data: list[tuple[str, str]], epochs: int = 5, lr0: float = 0.5, l2: float = 1e-3,
          min_count: int = 2, seed: int = 7, priors: dict[str, float] | None = None, log=print) -> dict:
    n = len(LABELS)
    cue_scale = M.CUE_VALUE  # cue features are not length-normalised (see model.feature_vector)
    li = {lab: i for i, lab in enumerate(LABELS)}
    t0 = time.time()
    vecs = []
    cue_names: set = set()
    counts: dict = {}
    for text, lab in data:
        lex, cue, v = M.feature_vector(text)
        for f in lex:
            counts[f] = counts.get(f, 0) + 1
        for f in cue:
            counts[f] = counts.get(f, 0) + 1
            cue_names.add(f)
        fv = [(f, v) for f in lex] + [(f, cue_scale) for f in cue]
        vecs.append((fv, li[lab]))
    keep = {f: None for f, c in counts.items() if c >= min_count}  # in order of first occurrence
    vecs2 = []
    for fv, y in vecs:
        kept = [fx for fx in fv if fx[0] in keep]
        nlex = sum(1 for f, _ in kept if f not in cue_names)
        v = 1.0 / math.sqrt(nlex) if nlex else 0.0  # as model._scores: norm over known features
        vecs2.append(([(f, cue_scale if f in cue_names else v) for f, _ in kept], y))
    vecs = vecs2
    log(f"featurised {len(vecs)} posts, {len(keep)} features kept of {len(counts)} in {time.time() - t0:.1f}s")
    W: dict = {f: [0.0] * n for f in keep}
    b = [0.0] * n
    rng = random.Random(seed)
    order = list(range(len(vecs)))
    step = 0
    for ep in range(epochs):
        rng.shuffle(order)
        lr = lr0 / (1.0 + ep)
        loss = 0.0
        for idx in order:
            fv, y = vecs[idx]
            z = list(b)
            ws = [(W[f], v) for f, v in fv]
            for w, v in ws:
                for k in range(n):
                    z[k] += v * w[k]
            mx = max(z)
            ex = [math.exp(q - mx) for q in z]
            s = sum(ex)
            p = [q / s for q in ex]
            loss -= math.log(max(p[y], 1e-12))
            g = p
            g[y] -= 1.0
            gl = [lr * gk for gk in g]
            decay = 1.0 - lr * l2
            for w, v in ws:
                for k in range(n):
                    w[k] = w[k] * decay - v * gl[k]
            for k in range(n):
                b[k] -= lr * 0.1 * g[k]
            step += 1
        log(f"epoch {ep + 1}/{epochs} lr={lr:.3f} loss={loss / len(order):.4f} ({time.time() - t0:.1f}s)")
    # Prior correction: the corpus is balanced, but in a social feed most posts are chit-chat.
    freq = [0] * n
    for _, y in vecs:
        freq[y] += 1
    if priors:
        for k, lab in enumerate(LABELS):
            b[k] += math.log(priors[lab] / (freq[k] / len(vecs)))
    weights = {}
    for name, f in sorted((M.feature_name(f), f) for f in W):
        w = [round(x, 4) for x in W[f]]
        if any(abs(x) >= 1e-3 for x in w):
            weights[name] = w
    return {
        "model_version": M.MODEL_VERSION,
        "labels": list(LABELS),
        "bias": [round(x, 5) for x in b],
        "weights": weights,
        "training": {"posts": len(data), "epochs": epochs, "lr0": lr0, "l2": l2, "min_count": min_count,
                     "priors": priors, "class_counts": dict(zip(LABELS, freq))},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=M.ARTEFACT_PATH)
    ap.add_argument("--per-label", type=int, default=8000)
    ap.add_argument("--hand-weight", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--l2", type=float, default=1.5e-3)
    args = ap.parse_args(argv)
    data = build_corpus(args.per_label, args.hand_weight)
    art = train(data, epochs=args.epochs, lr0=args.lr, l2=args.l2, priors=DEPLOYMENT_PRIORS,
                log=lambda m: print(m, file=sys.stderr))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(art, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.out)
    M.reset_model_cache()
    print(json.dumps({"out": args.out, "features": len(art["weights"]), "posts": len(data),
                      "bytes": os.path.getsize(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
