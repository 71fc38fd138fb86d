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


def train(data: list[tuple[str, str]], epochs: int = 8, lr0: float = 0.5, l2: float = 1e-6,
          min_count: int = 2, seed: int = 7, log=print) -> dict:
    n = len(LABELS)
    li = {lab: i for i, lab in enumerate(LABELS)}
    t0 = time.time()
    vecs = []
    counts: dict[str, int] = {}
    for text, lab in data:
        fs, v = M.feature_vector(text)
        for f in fs:
            counts[f] = counts.get(f, 0) + 1
        vecs.append((sorted(fs), v, li[lab]))
    keep = {f for f, c in counts.items() if c >= min_count}
    vecs = [([f for f in fs if f in keep], v, y) for fs, v, y in vecs]
    log(f"featurised {len(vecs)} posts, {len(keep)} features kept of {len(counts)} in {time.time() - t0:.1f}s")
    W: dict[str, list[float]] = {f: [0.0] * n for f in sorted(keep)}
    b = [0.0] * n
    rng = random.Random(seed)
    order = list(range(len(vecs)))
    step = 0
    for ep in range(epochs):
        rng.shuffle(order)
        lr = lr0 / (1.0 + ep)
        loss = 0.0
        for idx in order:
            fs, v, y = vecs[idx]
            z = list(b)
            ws = [W[f] for f in fs]
            for w in ws:
                for k in range(n):
                    z[k] += v * w[k]
            mx = max(z)
            ex = [math.exp(q - mx) for q in z]
            s = sum(ex)
            p = [q / s for q in ex]
            loss -= math.log(max(p[y], 1e-12))
            g = p
            g[y] -= 1.0
            gv = [lr * v * gk for gk in g]
            decay = 1.0 - lr * l2
            for w in ws:
                for k in range(n):
                    w[k] = w[k] * decay - gv[k]
            for k in range(n):
                b[k] -= lr * 0.1 * g[k]
            step += 1
        log(f"epoch {ep + 1}/{epochs} lr={lr:.3f} loss={loss / len(order):.4f} ({time.time() - t0:.1f}s)")
    weights = {}
    for f in sorted(W):
        w = [round(x, 4) for x in W[f]]
        if any(abs(x) >= 1e-3 for x in w):
            weights[f] = w
    return {
        "model_version": M.MODEL_VERSION,
        "labels": list(LABELS),
        "bias": [round(x, 5) for x in b],
        "weights": weights,
        "training": {"posts": len(data), "epochs": epochs, "lr0": lr0, "l2": l2, "min_count": min_count},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=M.ARTEFACT_PATH)
    ap.add_argument("--per-label", type=int, default=6000)
    ap.add_argument("--hand-weight", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--l2", type=float, default=1e-6)
    args = ap.parse_args(argv)
    data = build_corpus(args.per_label, args.hand_weight)
    art = train(data, epochs=args.epochs, lr0=args.lr, l2=args.l2, log=lambda m: print(m, file=sys.stderr))
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
