"""How far activity alone can take MRR@10 on a replay file, even knowing the future:

    .venv/bin/python -m tests.bench.match_oracle --data ../shared/data/se/matheducators.jsonl

For every answered root post (the `eval match` protocol's `all` set), ranks users by how many
answers they wrote within ±W days of the question, *later answers included* (this very
question's among them), never the author, and prints MRR@10 for several W. No ranker can see
the future, so this bounds what any mix of activity signals (recent answers, last active,
share of the site's answers) could reach; what is left above it must come from what the
question says. Not a benchmark of the service: an analysis behind docs/benchmarks.md."""
from __future__ import annotations

import argparse
import bisect
import json
from collections import Counter

from services.match.evaluate import _truth, load_events
from services.match.ranking import to_epoch

DAY = 86400.0


def oracle_mrr(events: list[dict], window_days: float, k: int = 10) -> float:
    truth, _ = _truth(events)
    answers = sorted((to_epoch(e["created_at"]), e["author_id"]) for e in events
                     if e.get("type") == "post" and e.get("reply_to"))
    times = [t for t, _ in answers]
    total, n = 0.0, 0
    for e in events:
        if e.get("type") != "post" or e.get("reply_to") or e["post_id"] not in truth:
            continue
        t = to_epoch(e["created_at"])
        lo, hi = bisect.bisect_left(times, t - window_days * DAY), bisect.bisect_right(times, t + window_days * DAY)
        counts = Counter(user for _, user in answers[lo:hi] if user != e["author_id"])
        ranked = [user for user, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))][:k]
        true = truth[e["post_id"]]
        rank = next((i + 1 for i, user in enumerate(ranked) if user in true), None)
        total += 1.0 / rank if rank else 0.0
        n += 1
    return round(total / n, 4) if n else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--windows", default="0.5,1,2,4,7,14", help="± days, comma-separated")
    args = ap.parse_args()
    events = load_events(args.data)
    print(json.dumps({"data": args.data, "oracle_mrr@10_by_window_days":
                      {w: oracle_mrr(events, float(w)) for w in args.windows.split(",")}}))


if __name__ == "__main__":
    main()
