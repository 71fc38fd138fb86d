"""`goalpost eval match --data REPLAY.jsonl`: offline evaluation of helper ranking.

Replays the file in order through the same ``ExpertiseIndex`` the match service runs.  At each
root post (``reply_to`` null) it ranks up to 10 helpers *before* the post is applied, using
only earlier events and never the author.  Truth: the authors of the replies to that post
(the author excluded).  Reported for ``all`` answered root posts and for ``warm`` ones (some
true answerer had posted earlier in the file): ``n``, ``hit@1``, ``hit@5``, ``hit@10``,
``mrr@10``; plus ``top1pct_share`` (share of all top-10 slots, over every ranked root post,
held by the 1% of the file's users, at least one, who got the most slots) and ``ranks_per_s``
(rank() calls per second of time spent inside rank()); ``ci95``: 95% bootstrap intervals of
``mrr@10`` and ``hit@5`` (roots resampled with replacement, a fixed seed); ``weights``: the
feature weights the index had learnt by the end of the file.

``--reference`` also runs the three reference rankers of shared/data/README.md on the same
protocol (``reference``: most answers so far; BM25 over the threads a helper answered; that
BM25 times log(2 + answers)), and ``vs_best_reference``: this ranker's MRR@10 over the best of
them. Several ``--data`` files print one JSON object a line.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, replace
from typing import Any, Iterable, Optional

from services.match.ranking import Candidate, ExpertiseIndex, MatchConfig, tokenize

K = 10
BOOTSTRAP = 1000


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


def bootstrap_ci(ranks: list[Optional[int]], n_boot: int = BOOTSTRAP, seed: int = 25) -> dict[str, list[float]]:
    """95% percentile intervals of mrr@10 and hit@5 over roots resampled with replacement."""
    if not ranks:
        return {"mrr@10": [0.0, 0.0], "hit@5": [0.0, 0.0]}
    rr = [1.0 / r if r is not None and r <= K else 0.0 for r in ranks]
    h5 = [1.0 if r is not None and r <= 5 else 0.0 for r in ranks]
    rng = random.Random(seed)
    n = len(rr)
    mrr, hit = [], []
    for _ in range(n_boot):
        pick = [rng.randrange(n) for _ in range(n)]
        mrr.append(sum(rr[i] for i in pick) / n)
        hit.append(sum(h5[i] for i in pick) / n)
    mrr.sort()
    hit.sort()
    lo, hi = int(0.025 * n_boot), min(n_boot - 1, int(0.975 * n_boot))
    return {"mrr@10": [round(mrr[lo], 4), round(mrr[hi], 4)], "hit@5": [round(hit[lo], 4), round(hit[hi], 4)]}


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
        "ci95": {"all": bootstrap_ci(all_ranks), "warm": bootstrap_ci(warm_ranks)},
        "top1pct_share": round(top / total, 4) if total else 0.0,
        "ranks_per_s": round(n_ranks / rank_time, 1) if rank_time > 0 else 0.0,
        "ranked_posts": n_ranks,
        "users": len(users),
    }


class ReferenceRanker:
    """The reference rankers of shared/data/README.md, on the replay protocol: candidates are
    the users who answered someone else's root post before, never the author. ``kind``:
    "answers" (most answers so far), "bm25" (BM25, k1 1.2, b 0.75, over the text and tags of
    the root posts each helper answered and of their answers: of the variants tried, the one
    closest to the figures in shared/data/README.md), "bm25_answers" (that BM25 times log(2 + answers));
    ties by helper id."""

    def __init__(self, kind: str, k1: float = 1.2, b: float = 0.75):
        self.kind, self.k1, self.b = kind, k1, b
        self._roots: dict[str, tuple[str, list[str]]] = {}   # root -> (author, its tokens)
        self.answers: Counter = Counter()
        self.tf: dict[str, Counter] = defaultdict(Counter)   # term -> helper -> count
        self.doclen: Counter = Counter()

    @staticmethod
    def _tokens(post: dict) -> list[str]:
        return tokenize(post.get("text") or "") + ["#" + str(t).lower() for t in post.get("tags") or ()]

    def rank(self, post: dict, k: int = K) -> list[Candidate]:
        author = post["author_id"]
        if self.kind == "answers":
            scores = {h: float(n) for h, n in self.answers.items()}
        else:
            n = len(self.doclen)
            avgdl = sum(self.doclen.values()) / n if n else 1.0
            scores = {}
            for term in set(self._tokens(post)):
                postings = self.tf.get(term)
                if not postings:
                    continue
                idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
                for h, tf in postings.items():
                    norm = self.k1 * (1 - self.b + self.b * self.doclen[h] / avgdl)
                    scores[h] = scores.get(h, 0.0) + idf * tf * (self.k1 + 1) / (tf + norm)
            if self.kind == "bm25_answers":
                scores = {h: s * math.log(2 + self.answers[h]) for h, s in scores.items()}
        ranked = sorted(((s, h) for h, s in scores.items() if h != author and s > 0), key=lambda x: (-x[0], x[1]))
        return [Candidate(h, s) for s, h in ranked[:k]]

    def observe_post(self, post: dict) -> None:
        reply_to = post.get("reply_to")
        if not reply_to:
            self._roots[post["post_id"]] = (post["author_id"], self._tokens(post))
            return
        root = self._roots.get(reply_to)
        if root is None or root[0] == post["author_id"]:
            return
        h = post["author_id"]
        self.answers[h] += 1
        terms = root[1] + self._tokens(post)
        for term in terms:
            self.tf[term][h] += 1
        self.doclen[h] += len(terms)

    def observe_reaction(self, reaction: dict) -> None:
        pass

    def observe_relation(self, relation: dict) -> None:
        pass


REFERENCES = ("answers", "bm25", "bm25_answers")


def evaluate(path: str, config: Optional[MatchConfig] = None, reference: bool = False) -> dict:
    """`goalpost eval match --data path`: one JSON-able dict (see module doc)."""
    cfg = config if config is not None else eval_config()
    events = load_events(path)
    index = ExpertiseIndex(cfg)
    out = replay(events, index, K)
    out["weights"] = {name: round(w, 4) for name, w in index.weights().items()}
    if reference:
        refs = {}
        for kind in REFERENCES:
            r = replay(events, ReferenceRanker(kind), K)
            refs[kind] = {"mrr@10": r["all"]["mrr@10"], "hit@5": r["all"]["hit@5"],
                          "top1pct_share": r["top1pct_share"]}
        out["reference"] = refs
        best = max(v["mrr@10"] for v in refs.values())
        out["vs_best_reference"] = round(out["all"]["mrr@10"] / best, 3) if best else None
    out["data"] = path
    out["config"] = asdict(cfg)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="goalpost eval match")
    ap.add_argument("--data", required=True, nargs="+", help="replay file(s) (JSON Lines)")
    ap.add_argument("--reference", action="store_true", help="also score the reference rankers")
    args = ap.parse_args(argv)
    for path in args.data:
        print(json.dumps(evaluate(path, reference=args.reference)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
