"""The intent model in-process on the posts the end-to-end benchmark replays (../shared/data/se,
texts cut at 1,500 characters as bench_e2e sends them), in batches as the service classifies:

    .venv/bin/python -m tests.bench.bench_classify [--batch 500] [--rounds 3]

Prints posts/s and µs a post for each round (features, topics and scores: `classify_batch`)."""
from __future__ import annotations

import argparse
import json
import time

from services.classify.model import classify_batch
from tests.bench.bench_e2e import source_posts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    posts = source_posts()
    texts, tags = [p["text"] for p in posts], [p["tags"] for p in posts]
    classify_batch(texts[:args.batch], tags[:args.batch])  # the model loads once
    for r in range(args.rounds):
        started = time.process_time()
        for i in range(0, len(texts), args.batch):
            classify_batch(texts[i:i + args.batch], tags[i:i + args.batch])
        cpu = time.process_time() - started
        print(json.dumps({"round": r + 1, "posts": len(texts), "batch": args.batch,
                          "posts_per_cpu_s": round(len(texts) / cpu), "us_per_post": round(cpu / len(texts) * 1e6, 1),
                          "mean_chars": round(sum(map(len, texts)) / len(texts))}))


if __name__ == "__main__":
    main()
