"""The batch route's own work, in-process (no stack needed):

    .venv/bin/python -m tests.bench.bench_validate [--posts 1000] [--repeat 25]

Validates and encodes a batch of posts as `POST /v1/posts/batch` does (one receive time for the
batch, ids assigned, each record encoded for Kafka) and prints the best time per batch over
`--repeat` tries, in ms, as JSON. Best rather than mean: other processes on the two cores only
ever add time."""
from __future__ import annotations

import argparse
import json
import timeit
from datetime import datetime, timezone

from services.ingest.logic import validate_post

TEXT = "How do I get started with sourdough? My starter never rises and smells of acetone."


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=25)
    args = ap.parse_args()
    items = [{"author_id": f"author-{j % 100}", "text": TEXT, "tags": ["baking"]} for j in range(args.posts)]

    def batch() -> list[bytes]:
        now = datetime.now(timezone.utc)
        return [validate_post(d, source="http", now=now).to_json() for d in items]

    number = 20
    best = min(timeit.repeat(batch, number=number, repeat=args.repeat)) / number
    print(json.dumps({"posts": args.posts, "best_ms_per_batch": round(best * 1e3, 2),
                      "posts_per_s_one_core": round(args.posts / best)}))


if __name__ == "__main__":
    main()
