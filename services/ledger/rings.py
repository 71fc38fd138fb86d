"""Reward rings: standing positive reactions counted per ordered pair giver -> receiver.

A cycle of "heavy" pairs (>= ``min_pair_count``; 2 users, or up to ``max_size`` round a circle)
whose members reward ring members at >= ``rate_ratio`` times their per-user rate with everyone
else is flagged (``state.flagged_rings``), and further rewards between its members are scaled to
``damping_percent`` (reason suffix ``:dampened``), the completing reaction included.
"""
from __future__ import annotations

from typing import Iterable

from services.ledger.rule_table import RuleTable
from services.ledger.state import LedgerState, count_in

RING_PATH_BUDGET = 10_000  # max search steps per ring check


def pair_add(st: LedgerState, rules: RuleTable, kind: str, giver: str, receiver: str, d: int,
              source: str, created: str) -> None:
    """Count (+1) or uncount (-1) a standing positive reaction giver -> receiver, and look for a
    ring when the pair just became or stays heavy."""
    if kind not in rules.ring_positive_kinds or giver == receiver:
        return
    heavy = st.heavy_index(rules.ring_min_pair_count)
    n = count_in(st.pair_counts, giver, receiver, d)
    if n >= rules.ring_min_pair_count:
        heavy.setdefault(giver, set()).add(receiver)
    elif giver in heavy:
        heavy[giver].discard(receiver)
        if not heavy[giver]:
            del heavy[giver]
    if d > 0 and n >= rules.ring_min_pair_count and receiver not in st.damped.get(giver, ()):
        _detect_ring(st, rules, giver, receiver, source, created)


def _ring_paths(heavy: dict[str, set[str]], start: str, goal: str, max_edges: int) -> Iterable[list[str]]:
    """Simple paths start -> ... -> goal over heavy pairs, shortest first, deterministic order."""
    budget = RING_PATH_BUDGET
    for limit in range(1, max_edges + 1):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            budget -= 1
            if budget < 0:
                return
            node, path = stack.pop()
            if len(path) - 1 == limit:
                continue
            for nxt in sorted(heavy.get(node, ()), reverse=True):
                if nxt == goal and len(path) == limit:
                    yield path + [goal]
                elif nxt != goal and nxt not in path:
                    stack.append((nxt, path + [nxt]))


def _concentrated(st: LedgerState, rules: RuleTable, members: set[str]) -> bool:
    """Every member rewards ring members at >= rate_ratio x their per-user rate with others."""
    for m in members:
        given = st.pair_counts.get(m, {})
        inside = [given[x] for x in members if x != m and given.get(x, 0) > 0]
        in_ring = sum(inside)
        out = sum(given.values()) - in_ring
        n_out = len(given) - len(inside)
        if out > 0 and in_ring * n_out < rules.ring_rate_ratio * len(inside) * out:
            return False
    return True


def _detect_ring(st: LedgerState, rules: RuleTable, giver: str, receiver: str, source: str,
                 created: str) -> None:
    heavy = st.heavy_index(rules.ring_min_pair_count)
    for path in _ring_paths(heavy, receiver, giver, rules.ring_max_size - 1):
        members = set(path)
        if not _concentrated(st, rules, members):
            continue
        ordered = sorted(members)
        cycle = [giver] + path  # giver -> receiver -> ... -> giver
        counts = [[a, b, st.pair_counts[a][b]] for a, b in zip(cycle, cycle[1:])]
        ring = {"members": ordered, "flagged_at": created, "source_event_id": source,
                "counts": counts}
        if not any(r["members"] == ordered for r in st.flagged_rings):
            st.flagged_rings.append(ring)
            st.last_flagged.append(ring)
            st.count("ring_flagged")
        for a in ordered:
            st.damped.setdefault(a, set()).update(b for b in ordered if b != a)
        return


def is_damped(st: LedgerState, giver: str, receiver: str) -> bool:
    return receiver in st.damped.get(giver, ())
