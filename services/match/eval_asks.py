"""`goalpost eval asks --data REPLAY.jsonl`: asks in waves against ten-at-once, on the replay's clock.

The file is replayed in order through the service's ``ExpertiseIndex`` and its wave rules
(services/match/waves.py). Each root post is ranked before it is applied, from earlier events
only, and its first wave asked; its timer fires `after_s` later on the file's clock and ranks
it again (at that time, without the helpers asked) for the next wave. The helpers simulated:
a helper asked who really answered the post in the file answers at their real time, or when
asked if that is later; everyone else stays silent. A wave is due only while no asked helper
has answered.

So that a later wave never ranks a helper up for having answered this very post, the replies to
a post still in its waves (and the reactions to those replies) reach the index only once its
waves are over: at its last wave or its answer.

Printed per policy, over the file's root posts: `reached` (share of the answered roots whose
real answerer was asked), `notifications_per_root`, `median_s_to_answer` (post to the first
asked real answerer's answer, over the reached roots), and `waves_per_root`.
"""
from __future__ import annotations

import heapq
import json
import statistics
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from services.match.evaluate import eval_config, load_events
from services.match.ranking import ExpertiseIndex, MatchConfig, to_epoch
from services.match.waves import WavePolicy, due_step, next_wave_at

TEN_AT_ONCE = WavePolicy(size=10, after_s=0, max_waves=1)


@dataclass
class _Root:
    post: dict
    posted_at: float
    answers: dict[str, float]                              # real answerer -> their first reply time
    asked: dict[str, float] = field(default_factory=dict)  # helper -> when asked
    waves: int = 0
    deferred: list[dict] = field(default_factory=list)     # its thread's events, held back

    def answered_at(self) -> Optional[float]:
        """When the first asked real answerer answers, if any was asked."""
        times = [max(self.asked[h], t) for h, t in self.answers.items() if h in self.asked]
        return min(times) if times else None


def _real_answers(events: list[dict]) -> dict[str, dict[str, float]]:
    """Root post -> {answerer: their first reply's time}, the root's author left out."""
    authors = {e["post_id"]: e["author_id"] for e in events if e.get("type") == "post" and not e.get("reply_to")}
    out: dict[str, dict[str, float]] = {}
    for e in events:
        if e.get("type") == "post" and e.get("reply_to") in authors and e["author_id"] != authors[e["reply_to"]]:
            t = to_epoch(e.get("created_at"))
            answers = out.setdefault(e["reply_to"], {})
            answers[e["author_id"]] = min(t, answers.get(e["author_id"], t))
    return out


def simulate(events: list[dict], policy: WavePolicy, config: Optional[MatchConfig] = None) -> dict[str, Any]:
    index = ExpertiseIndex(config or eval_config())
    answers = _real_answers(events)
    open_roots: dict[str, _Root] = {}     # roots still in their waves
    thread_of: dict[str, str] = {}        # held-back reply -> the root it waits for
    timers: list[tuple[float, int, str]] = []
    seq = 0
    results: list[_Root] = []

    def ask(root: _Root, at: float, count: int, wave: int, first: bool) -> None:
        # the first wave at the post's own time, as the service; later ones at the timer's
        found = index.rank_batch([(root.post, None)], k=count, now=None if first else at,
                                 exclude=[set(root.asked)])[0]
        for c in found:
            root.asked.setdefault(c.helper_id, at)
        root.waves = wave
        # as the service's follower does with each Match: the asks count, and answering them
        # (or not) is what the index learns availability from
        index.route(root.post["post_id"], [c.helper_id for c in found], at, root.post["author_id"])

    def finish(root_id: str) -> None:
        root = open_roots.pop(root_id)
        results.append(root)
        for e in root.deferred:
            apply(e)

    def apply(e: dict) -> None:
        typ = e.get("type")
        if typ == "post":
            index.observe_post(e)
        elif typ == "reaction":
            index.observe_reaction(e)
        elif typ == "relation":
            index.observe_relation(e)

    def fire_until(t: float) -> None:
        while timers and timers[0][0] <= t:
            due, _, root_id = heapq.heappop(timers)
            root = open_roots[root_id]
            answered = root.answered_at()
            step = due_step(root.waves, 0, policy)
            if (answered is not None and answered <= due) or step is None:
                finish(root_id)
                continue
            ask(root, due, step.count, step.wave, first=False)
            schedule(root_id, next_wave_at(step.wave, due, policy))

    def schedule(root_id: str, due: Optional[float]) -> None:
        nonlocal seq
        if due is None:
            finish(root_id)
        else:
            seq += 1
            heapq.heappush(timers, (due, seq, root_id))

    clock = float("-inf")
    for e in events:
        t = to_epoch(e.get("created_at")) if e.get("created_at") else clock
        clock = max(clock, t)
        fire_until(clock)
        typ = e.get("type")
        held = thread_of.get(e.get("reply_to") or "") if typ == "post" else thread_of.get(e.get("post_id", ""))
        if typ == "post" and e.get("reply_to") in open_roots:
            held = e["reply_to"]
        if held is not None and held in open_roots:
            open_roots[held].deferred.append(e)
            if typ == "post":
                thread_of[e["post_id"]] = held
            continue
        if typ == "post" and not e.get("reply_to"):
            root = _Root(e, clock, answers.get(e["post_id"], {}))
            open_roots[e["post_id"]] = root
            ask(root, clock, policy.size, 1, first=True)
            apply(e)
            schedule(e["post_id"], next_wave_at(1, clock, policy))
            continue
        apply(e)
    fire_until(float("inf"))
    return _summary(results)


def _summary(roots: list["_Root"]) -> dict[str, Any]:
    answered = [r for r in roots if r.answers]
    reached = [r for r in answered if r.answered_at() is not None]
    waits = [r.answered_at() - r.posted_at for r in reached]  # type: ignore[operator]
    return {
        "roots": len(roots),
        "answered_roots": len(answered),
        "reached": round(len(reached) / len(answered), 4) if answered else 0.0,
        "notifications_per_root": round(sum(len(r.asked) for r in roots) / len(roots), 3) if roots else 0.0,
        "waves_per_root": round(sum(r.waves for r in roots) / len(roots), 3) if roots else 0.0,
        "median_s_to_answer": round(statistics.median(waits)) if waits else None,
    }


def evaluate(path: str, policy: Optional[WavePolicy] = None) -> dict[str, Any]:
    """`goalpost eval asks --data path`: ten-at-once beside waves (the service's defaults unless given)."""
    events = load_events(path)
    waves = policy or WavePolicy()
    return {"data": path, "policy": asdict(waves),
            "ten_at_once": simulate(events, TEN_AT_ONCE), "waves": simulate(events, waves)}


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="goalpost eval asks")
    ap.add_argument("--data", required=True, nargs="+", help="replay files (JSON Lines)")
    ap.add_argument("--wave-size", type=int, default=WavePolicy.size)
    ap.add_argument("--after-s", type=float, default=WavePolicy.after_s)
    ap.add_argument("--max-waves", type=int, default=WavePolicy.max_waves)
    args = ap.parse_args(argv)
    policy = WavePolicy(args.wave_size, args.after_s, args.max_waves)
    for path in args.data:
        print(json.dumps(evaluate(path, policy)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
