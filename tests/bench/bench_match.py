"""Match ranking benchmark, in-process (no stack needed):

    .venv/bin/python -m tests.bench.bench_match [--helpers 100000] [--posts 200000] [--queries 2000]

Builds an ExpertiseIndex (services/match/ranking.py, service defaults: MatchConfig()) from a
synthetic but realistic stream, then times rank() on fresh root posts. The stream:

* a vocabulary of ~50k words drawn with a Zipf law (s = 1.05), ~2k tags (Zipf too); root posts
  have 8-40 words and 1-3 tags, replies 5-30 words;
* `--helpers` helpers, each answers at least once, the rest of the replies go to helpers by a
  Zipf-like activity law (a few answer a lot); askers are helpers or ask-only users;
* a reply points at one of the recent root posts (some threads get several replies, some
  replies answer a reply); ~15% of answered roots get an accept;
* 180 days of posts in time order; the queries come right after the stream ends.

Events are generated one at a time and applied immediately (nothing kept), so the resident
memory measured (VmRSS of this process, after gc) is the index plus the interpreter; the
generator's own time is left out of `build_events_per_s` (the follower's rate).
Ranking is timed twice: one post per `rank()` call (`rank_ms_*`, wall clock; `rank_cpu_ms_*`,
the thread's CPU time, which is what they would be without the other processes on a shared
machine, `load_avg_1m` says how busy it was), and in batches of `--batch` posts per
`rank_batch()` call as the service ranks (`batch_ranks_per_s`, `batch_ms_*`). Prints one JSON
object.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import time

from services.core.runtime import settle_heap
from services.match.ranking import ExpertiseIndex, MatchConfig
from tests.bench.common import percentile

DAY = 86400.0


def rss_self_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def zipf_cum(n: int, s: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (i + 1) ** s for i in range(n)))


class Stream:
    def __init__(self, helpers: int, posts: int, vocab: int, tags: int, seed: int):
        self.rng = random.Random(seed)
        self.helpers = helpers
        self.posts = posts
        self.words = [f"w{i}" for i in range(vocab)]
        self.word_cum = zipf_cum(vocab, 1.05)
        self.tags = [f"tag{i}" for i in range(tags)]
        self.tag_cum = zipf_cum(tags, 1.0)
        self.helper_cum = zipf_cum(helpers, 0.8)
        self.askers_only = helpers // 2
        self.t0 = 1_760_000_000.0
        self.span = 180 * DAY

    def text(self, lo: int, hi: int) -> str:
        n = self.rng.randint(lo, hi)
        return " ".join(self.rng.choices(self.words, cum_weights=self.word_cum, k=n))

    def root(self, pid: str, t: float) -> dict:
        rng = self.rng
        if rng.random() < 0.5:
            author = f"h{rng.randrange(self.helpers)}"
        else:
            author = f"a{rng.randrange(self.askers_only)}"
        ntags = rng.randint(1, 3)
        tags = sorted(set(rng.choices(self.tags, cum_weights=self.tag_cum, k=ntags)))
        return {"post_id": pid, "author_id": author, "text": self.text(8, 40), "reply_to": None,
                "tags": tags, "created_at": t}

    def events(self):
        """Yields ("post", dict) / ("reaction", dict) in time order."""
        rng = self.rng
        n_replies = int(self.posts * 0.7)
        n_roots = self.posts - n_replies
        # reply authors: every helper once (shuffled), then Zipf-like activity
        first = list(range(self.helpers))
        rng.shuffle(first)
        order = ["r"] * n_replies + ["q"] * n_roots
        rng.shuffle(order)
        order[:20] = ["q"] * 20
        recent_roots: list[str] = []
        recent_replies: list[tuple[str, str]] = []
        root_author: dict[str, str] = {}
        ri = qi = 0
        step = self.span / self.posts
        for i, kind in enumerate(order):
            t = self.t0 + i * step
            if kind == "q":
                pid = f"q{qi}"
                qi += 1
                p = self.root(pid, t)
                recent_roots.append(pid)
                root_author[pid] = p["author_id"]
                if len(recent_roots) > 2000:
                    old = recent_roots.pop(0)
                    root_author.pop(old, None)
                yield "post", p
                continue
            if ri < len(first):
                hidx = first[ri]
            else:
                hidx = rng.choices(range(self.helpers), cum_weights=self.helper_cum)[0]
            author = f"h{hidx}"
            pid = f"r{ri}"
            ri += 1
            if recent_replies and rng.random() < 0.1:
                target = rng.choice(recent_replies)[0]
            else:
                target = recent_roots[-1 - min(int(rng.expovariate(1 / 50)), len(recent_roots) - 1)]
            yield "post", {"post_id": pid, "author_id": author, "text": self.text(5, 30),
                           "reply_to": target, "tags": [], "created_at": t}
            recent_replies.append((pid, author))
            if len(recent_replies) > 500:
                recent_replies.pop(0)
            asker = root_author.get(target)
            if asker and asker != author and rng.random() < 0.15:
                yield "reaction", {"actor_id": asker, "post_id": pid, "kind": "accept",
                                   "created_at": t + 60}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--helpers", type=int, default=100_000)
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--vocab", type=int, default=50_000)
    ap.add_argument("--tags", type=int, default=2_000)
    ap.add_argument("--queries", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch", type=int, default=500, help="posts per rank_batch() call")
    ap.add_argument("--learn-rate", type=float, default=None,
                    help="MatchConfig.learn_rate (learning the weights from answers; default: the service's)")
    args = ap.parse_args()

    gc.collect()
    rss0 = rss_self_mib()
    stream = Stream(args.helpers, args.posts, args.vocab, args.tags, args.seed)
    config = MatchConfig() if args.learn_rate is None else MatchConfig(learn_rate=args.learn_rate)
    index = ExpertiseIndex(config)
    n_posts = n_reactions = 0
    gen_s = 0.0
    t_build = time.perf_counter()
    events = stream.events()
    while True:
        g = time.perf_counter()
        try:
            kind, ev = next(events)
        except StopIteration:
            gen_s += time.perf_counter() - g
            break
        gen_s += time.perf_counter() - g
        if kind == "post":
            index.observe_post(ev)
            n_posts += 1
        else:
            index.observe_reaction(ev)
            n_reactions += 1
    build_s = time.perf_counter() - t_build - gen_s
    end_t = stream.t0 + stream.span
    queries = [stream.root(f"bq{i}", end_t + i) for i in range(args.queries)]
    settle_heap()  # as the service does once its index is recovered
    rss_built = rss_self_mib()

    lat = []
    cpu = []
    n_empty = 0
    t_all = time.perf_counter()
    for q in queries:
        c = time.thread_time()
        t = time.perf_counter()
        got = index.rank(q, k=10)
        lat.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        n_empty += not got
    total = time.perf_counter() - t_all
    lat.sort()
    cpu.sort()
    batch_lat = []
    batch_cpu: list[float] = []
    t_batches = time.perf_counter()
    for i in range(0, len(queries), args.batch):
        t, c = time.perf_counter(), time.process_time()
        index.rank_batch([(q, None) for q in queries[i:i + args.batch]], k=10)
        batch_lat.append(time.perf_counter() - t)
        batch_cpu.append(time.process_time() - c)
    batches_s = time.perf_counter() - t_batches
    batch_lat.sort()
    gc.collect()
    profiles = index.core.n_answerers()
    out = {
        "helpers_with_profile": profiles,
        "users": len(index.helpers),
        "posts": n_posts,
        "reactions": n_reactions,
        "terms": index.core.n_terms(),
        "postings": index.core.n_postings(),
        "build_s": round(build_s, 2),
        "build_events_per_s": round((n_posts + n_reactions) / build_s, 1),
        "queries": len(lat),
        "empty_results": n_empty,
        "ranks_per_s": round(len(lat) / total, 1),
        "rank_ms_p50": round(percentile(lat, 0.50) * 1000, 3),
        "rank_ms_p90": round(percentile(lat, 0.90) * 1000, 3),
        "rank_ms_p99": round(percentile(lat, 0.99) * 1000, 3),
        "rank_ms_max": round(lat[-1] * 1000, 3),
        # CPU time of the thread per rank(): the same without the shared machine's preemption
        "rank_cpu_ms_p50": round(percentile(cpu, 0.50) * 1000, 3),
        "rank_cpu_ms_p99": round(percentile(cpu, 0.99) * 1000, 3),
        "batch": args.batch,
        "batch_ranks_per_s": round(len(queries) / batches_s, 1),
        "batch_ms_p50": round(percentile(batch_lat, 0.50) * 1000, 3),
        "batch_ms_p99": round(percentile(batch_lat, 0.99) * 1000, 3),
        "batch_cpu_ms_p50": round(percentile(batch_cpu, 0.50) * 1000, 3),
        "batch_cpu_ms_p99": round(percentile(batch_cpu, 0.99) * 1000, 3),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "rss_mib_before": round(rss0, 1),
        "rss_mib": round(rss_self_mib(), 1),
        "rss_mib_after_build": round(rss_built, 1),
        "index_mib": round(rss_built - rss0, 1),
        "learn_rate": config.learn_rate,
        "learning_steps": index.core.n_learnt(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
