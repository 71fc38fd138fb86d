"""`goalpost eval match --data REPLAY.jsonl`: offline evaluation of helper ranking.

Replays the file in order through the same ``ExpertiseIndex`` the match service runs.  At each
root post (``reply_to`` null) it ranks up to 10 helpers *before* the post is applied, using
only earlier events and never the author.  Truth: the authors of the replies to that post
(the author excluded).  Reported for ``all`` answered root posts and for ``warm`` ones (some
true answerer had posted earlier in the file): ``n``, ``hit@1``, ``hit@5``, ``hit@10``,
``mrr@10``; plus ``top1pct_share`` (share of all top-10 slots, over every ranked root post,
held by the 1% of the file's users, at least one, who got the most slots) and ``ranks_per_s``
(rank() calls per second of time spent inside rank()).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, replace
from typing import Any, Iterable, Optional

from services.match.ranking import ExpertiseIndex, MatchConfig

K = 10


def eval_config(base: Optional[MatchConfig] = None) -> MatchConfig:
    """The config the evaluation runs: the service defaults with the capacity cap off (a replay
    has no real inboxes: nobody reads them, so routed requests would never be dismissed)."""
    return replace(base or MatchConfig(), capacity=None)


def load_events(path: str) -> list[dict]:
    events = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    return events


def _truth(events: Iterable[dict]) -> tuple[dict[str, set[str]], set[str]]:
    roots: dict[str, str] = {}
    truth: dict[str, set[str]] = defaultdict(set)
    users: set[str] = set()
    for e in events:
        typ = e.get("type")
        if typ == "post":
            users.add(e["author_id"])
            if not e.get("reply_to"):
                roots[e["post_id"]] = e["author_id"]
        elif typ == "reaction":
            users.add(e["actor_id"])
        elif typ == "relation":
            users.add(e["actor_id"])
    for e in events:
        if e.get("type") == "post" and e.get("reply_to"):
            root_author = roots.get(e["reply_to"])
            if root_author is not None and e["author_id"] != root_author:
                truth[e["reply_to"]].add(e["author_id"])
    return dict(truth), users


def _metrics(ranks: list[Optional[int]]) -> dict[str, Any]:
    n = len(ranks)
    if n == 0:
        return {"n": 0, "hit@1": 0.0, "hit@5": 0.0, "hit@10": 0.0, "mrr@10": 0.0}
    return {
        "n": n,
        "hit@1": round(sum(1 for r in ranks if r is not None and r <= 1) / n, 4),
        "hit@5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
        "hit@10": round(sum(1 for r in ranks if r is not None and r <= 10) / n, 4),
        "mrr@10": round(sum(1.0 / r for r in ranks if r is not None and r <= 10) / n, 4),
    }


def replay(events: list[dict], index: Any, k: int = K) -> dict[str, Any]:
    """Replay events through index (anything with rank/observe_post/observe_reaction/
    observe_relation) and score its rankings."""
    truth, users = _truth(events)
    seen: set[str] = set()          # users who have posted so far
    all_ranks: list[Optional[int]] = []
    warm_ranks: list[Optional[int]] = []
    slots: Counter = Counter()
    n_ranks = 0
    rank_time = 0.0
    for e in events:
        typ = e.get("type")
        if typ == "post":
            if not e.get("reply_to"):
                t0 = time.perf_counter()
                cands = index.rank(e, k=k)
                rank_time += time.perf_counter() - t0
                n_ranks += 1
                ids = [c.helper_id for c in cands][:k]
                assert e["author_id"] not in ids, "ranked the author"
                slots.update(ids)
                true = truth.get(e["post_id"])
                if true:
                    r = next((i + 1 for i, h in enumerate(ids) if h in true), None)
                    all_ranks.append(r)
                    if true & seen:
                        warm_ranks.append(r)
            index.observe_post(e)
            seen.add(e["author_id"])
        elif typ == "reaction":
            index.observe_reaction(e)
        elif typ == "relation":
            index.observe_relation(e)
    top_n = max(1, len(users) // 100)
    total = sum(slots.values())
    top = sum(v for _, v in slots.most_common(top_n))
    return {
        "all": _metrics(all_ranks),
        "warm": _metrics(warm_ranks),
        "top1pct_share": round(top / total, 4) if total else 0.0,
        "ranks_per_s": round(n_ranks / rank_time, 1) if rank_time > 0 else 0.0,
        "ranked_posts": n_ranks,
        "users": len(users),
    }


def evaluate(path: str, config: Optional[MatchConfig] = None) -> dict:
    """`goalpost eval match --data path`: one JSON-able dict (see module doc)."""
    cfg = config if config is not None else eval_config()
    out = replay(load_events(path), ExpertiseIndex(cfg), K)
    out["data"] = path
    out["config"] = asdict(cfg)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="goalpost eval match")
    ap.add_argument("--data", required=True, help="replay file (JSON Lines)")
    args = ap.parse_args(argv)
    print(json.dumps(evaluate(args.data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
