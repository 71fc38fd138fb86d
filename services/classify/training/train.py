"""Rebuild the intent model artefact from the project's own training data.

    python -m services.classify.training.train [--out PATH] [--C C] [--cue V]

Fits ``fit.fit`` on every post of ``training/data/*.tsv`` with the setting chosen by
leave-one-family-out cross-validation (``select.py``) and writes the JSON artefact that
``model.py`` reads. Deterministic: the same data give a byte-identical artefact.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

from services.classify import model as M
from services.classify.training import corpus
from services.classify.training.fit import DEPLOYMENT_PRIORS, Config, export, featurise, fit
from services.classify.training.select import weights_of

CHOSEN = Config(C=10.0, cue_value=0.5, min_df=2, hand_weight=3.0)  # see select.py's output


def build(cfg: Config = CHOSEN) -> dict:
    examples = corpus.load()
    feats = featurise([e.text for e in examples])
    m = fit(feats, [e.label for e in examples], weights_of(examples, cfg.hand_weight), cfg)
    return export(m, {"posts": len(examples), "priors": DEPLOYMENT_PRIORS,
                      "files": dict(sorted(Counter(e.file for e in examples).items())),
                      "class_counts": dict(sorted(Counter(e.label for e in examples).items()))})


def write(art: dict, out: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(art, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=M.ARTEFACT_PATH)
    ap.add_argument("--C", type=float, default=CHOSEN.C)
    ap.add_argument("--cue", type=float, default=CHOSEN.cue_value)
    ap.add_argument("--min-df", type=int, default=CHOSEN.min_df)
    ap.add_argument("--hand-weight", type=float, default=CHOSEN.hand_weight)
    args = ap.parse_args(argv)
    t0 = time.time()
    art = build(Config(C=args.C, cue_value=args.cue, min_df=args.min_df, hand_weight=args.hand_weight))
    write(art, args.out)
    M.reset_model_cache()
    print(json.dumps({"out": args.out, "features": len(art["features"]), "posts": art["training"]["posts"],
                      "bytes": os.path.getsize(args.out), "seconds": round(time.time() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
