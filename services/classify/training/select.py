"""Model selection by leave-one-family-out cross-validation on the training data only.

    python -m services.classify.training.select [--C 0.3,1,3] [--cue 0,0.25] [--min-df 2]

Each fold trains on every family of posts but one (forum, chat, tweet, disaster, handwritten)
and predicts the family left out, so a setting is judged by how it does on a kind of post it
never saw. Scores pool the out-of-family predictions of all folds: macro-F1 over the four
intents, and per family macro-F1 (over the intents that family has) and accuracy. No
evaluation file is read.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

from services.classify.model import INTENTS
from services.classify.training import corpus
from services.classify.training.fit import Config, featurise, fit, log_loss, macro_f1


def weights_of(examples: list[corpus.Example], hand_weight: float) -> list[float]:
    """Hand-written posts count more than template ones: they are fewer and more varied."""
    return [1.0 if e.file == "synthetic" else hand_weight for e in examples]


def leave_one_family_out(examples: list[corpus.Example], feats: list, cfg: Config) -> dict:
    families = sorted({e.family for e in examples})
    pred = [""] * len(examples)
    losses = {}
    for fam in families:
        tr = [k for k, e in enumerate(examples) if e.family != fam]
        te = [k for k, e in enumerate(examples) if e.family == fam]
        m = fit([feats[k] for k in tr], [examples[k].label for k in tr],
                weights_of([examples[k] for k in tr], cfg.hand_weight), cfg)
        p = m.proba([feats[k] for k in te])
        for k, row in zip(te, p.argmax(axis=1)):
            pred[k] = INTENTS[row]
        losses[fam] = round(log_loss(p, [examples[k].label for k in te]), 4)
    gold = [e.label for e in examples]
    per_family = {}
    for fam in families:
        ks = [k for k, e in enumerate(examples) if e.family == fam]
        g, q = [gold[k] for k in ks], [pred[k] for k in ks]
        per_family[fam] = {"n": len(ks), "macro_f1": round(macro_f1(g, q, tuple(sorted(set(g)))), 4),
                           "accuracy": round(sum(a == b for a, b in zip(g, q)) / len(ks), 4),
                           "log_loss": losses[fam]}
    return {"macro_f1": round(macro_f1(gold, pred, INTENTS), 4),
            "mean_family_macro_f1": round(sum(v["macro_f1"] for v in per_family.values()) / len(per_family), 4),
            "worst_family_macro_f1": min(v["macro_f1"] for v in per_family.values()),
            "per_family": per_family}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--C", default="0.3,1,3")
    ap.add_argument("--cue", default="0.25")
    ap.add_argument("--min-df", default="2")
    ap.add_argument("--hand-weight", default="3")
    args = ap.parse_args(argv)
    examples = corpus.load()
    feats = featurise([e.text for e in examples])
    grid = itertools.product(*(map(float, s.split(",")) for s in (args.C, args.cue, args.hand_weight)),
                             map(int, args.min_df.split(",")))
    for C, cue, hw, mdf in grid:
        cfg = Config(C=C, cue_value=cue, min_df=int(mdf), hand_weight=hw)
        t0 = time.time()
        res = leave_one_family_out(examples, feats, cfg)
        res["config"] = cfg.__dict__
        res["seconds"] = round(time.time() - t0, 1)
        print(json.dumps(res), flush=True)
        print(f"C={C} cue={cue} hand={hw} min_df={mdf}: macro-F1 {res['macro_f1']} "
              f"worst family {res['worst_family_macro_f1']}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
