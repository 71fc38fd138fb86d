"""Memory of the match index over a long stream, in-process (no stack):

    .venv/bin/python -m tests.bench.match_memory [--posts 500000] [--users 2000]
    .venv/bin/python -m tests.bench.match_memory --prune-only   # the pause of a vocabulary pruning

Replays Stack Exchange text (beer and matheducators from ../shared/data/se) as a stream of
root posts (30%) and replies by a fixed population of users, with an upvote every 20 posts, and
prints the resident size and the sizes of the index's bounded structures every 50,000 posts.
With a fixed vocabulary and population the index must level off: postings are capped per term,
the root/reply/reaction caches by count."""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from pathlib import Path

import orjson

from services.match.ranking import ExpertiseIndex, MatchConfig
from tests.bench.common import rss_mib

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "se"


def time_term_pruning() -> None:
    """The pause when the vocabulary passes max_terms + 10%: one helper per term; the last
    term added sets the pruning off."""
    cfg = MatchConfig()
    idx = ExpertiseIndex(cfg)
    n = cfg.max_terms + max(cfg.max_terms // 10, 1) + 1
    for i in range(n - 1):
        idx.core.add_terms(f"h{i % 5000}", [(f"term{i}", 1.0)], 1.7e9 + i)
    started = time.perf_counter()
    idx.core.add_terms("h0", [(f"term{n}", 1.0)], 1.7e9 + n)
    print(json.dumps({"terms_before": n, "terms_after": idx.core.n_terms(),
                      "prune_ms": round((time.perf_counter() - started) * 1000)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=500_000)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--prune-only", action="store_true", help="only time the vocabulary pruning")
    args = ap.parse_args()
    if args.prune_only:
        time_term_pruning()
        return
    texts = [e["text"] for name in ("beer", "matheducators")
             for e in map(orjson.loads, (DATA / f"{name}.jsonl").read_bytes().splitlines())
             if e.get("type") == "post" and e.get("text")]
    rnd = random.Random(1)
    idx = ExpertiseIndex(MatchConfig())
    users = [f"u{i}" for i in range(args.users)]
    roots: list[str] = []
    t = 1.7e9
    for n in range(1, args.posts + 1):
        t += 0.004  # 250 posts/s
        root = n % 10 < 3 or not roots
        idx.observe_post({"post_id": f"p{n}", "author_id": rnd.choice(users), "text": rnd.choice(texts),
                          "created_at": t, "reply_to": None if root else rnd.choice(roots), "tags": []}, topics=[])
        if root:
            roots.append(f"p{n}")
            if len(roots) > 5000:
                roots.pop(0)
        if n % 20 == 0:
            idx.observe_reaction({"reaction_id": f"r{n}", "actor_id": rnd.choice(users), "post_id": f"p{n - 1}",
                                  "kind": "upvote", "created_at": t})
        if n % 50_000 == 0:
            gc.collect()
            print(json.dumps({"posts": n, "rss_mib": round(rss_mib(os.getpid()), 1), "postings": idx.core.n_postings(),
                              "terms": idx.core.n_terms(), "cached_roots": len(idx._roots),
                              "cached_replies": len(idx._replies), "cached_reactions": len(idx._reactions)}),
                  flush=True)


if __name__ == "__main__":
    main()
