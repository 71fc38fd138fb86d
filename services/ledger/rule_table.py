"""The ledger's rule table: every point value and threshold, read from rules.toml and checked."""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

RULES_PATH = Path(__file__).with_name("rules.toml")


@dataclass(frozen=True)
class RuleTable:
    version: str
    # points
    post_root: int = 0
    post_reply: int = 0
    accept_author: int = 15
    accept_accepter: int = 2
    routed_helper_bonus: int = 5
    upvote_reply: int = 10
    upvote_root: int = 5
    downvote_author: int = -2
    downvote_voter: int = -1
    thanks: int = 5
    # cap
    daily_vote_cap: int = 200
    cap_days_kept: int = 3
    # routing
    require_match_before_reply: bool = False
    # rings
    ring_min_pair_count: int = 5
    ring_max_size: int = 3
    ring_rate_ratio: int = 5
    ring_damping_percent: int = 50
    ring_positive_kinds: frozenset[str] = frozenset({"upvote", "thanks", "accept"})
    # serial voting: upvotes by one actor on one recipient's posts past this many within the
    # window are reversed (GOALPOST_SERIAL_VOTES overrides the table)
    serial_votes: int = 10
    serial_window_s: int = 86400
    # audit / limits
    zero_entries: bool = True
    max_pending: int = 100_000

    _POINTS = (
        "post_root", "post_reply", "accept_author", "accept_accepter", "routed_helper_bonus",
        "upvote_reply", "upvote_root", "downvote_author", "downvote_voter", "thanks",
    )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "RuleTable":
        """Build and validate a table from the parsed TOML; unknown keys are errors (typos)."""

        def section(name: str, allowed: set[str]) -> Mapping[str, Any]:
            sec = data.get(name, {})
            if not isinstance(sec, Mapping):
                raise ValueError(f"rules: [{name}] must be a table")
            extra = set(sec) - allowed
            if extra:
                raise ValueError(f"rules: unknown key(s) in [{name}]: {sorted(extra)}")
            return sec

        def integer(sec: Mapping[str, Any], key: str, default: int, where: str, lo: int | None = None,
                    hi: int | None = None) -> int:
            v = sec.get(key, default)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"rules: {where}.{key} must be an integer, got {v!r}")
            if lo is not None and v < lo or hi is not None and v > hi:
                raise ValueError(f"rules: {where}.{key}={v} out of range [{lo}, {hi}]")
            return v

        def boolean(sec: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
            v = sec.get(key, default)
            if not isinstance(v, bool):
                raise ValueError(f"rules: {where}.{key} must be true or false, got {v!r}")
            return v

        extra_top = set(data) - {"version", "points", "cap", "routing", "rings", "serial", "audit", "limits"}
        if extra_top:
            raise ValueError(f"rules: unknown top-level key(s): {sorted(extra_top)}")
        version = data.get("version")
        if not isinstance(version, str) or not version.strip():
            raise ValueError("rules: version must be a non-empty string")
        d = cls(version=version)  # defaults
        kw: dict[str, Any] = {"version": version}
        pts = section("points", set(cls._POINTS))
        for k in cls._POINTS:
            kw[k] = integer(pts, k, getattr(d, k), "points")
        for k in ("accept_author", "accept_accepter", "routed_helper_bonus", "upvote_reply",
                  "upvote_root", "thanks"):
            if kw[k] < 0:
                raise ValueError(f"rules: points.{k} must be >= 0 (rewards are damped/capped)")
        cap = section("cap", {"daily_vote_points", "days_kept"})
        kw["daily_vote_cap"] = integer(cap, "daily_vote_points", d.daily_vote_cap, "cap", 0)
        kw["cap_days_kept"] = integer(cap, "days_kept", d.cap_days_kept, "cap", 1)
        routing = section("routing", {"require_match_before_reply"})
        kw["require_match_before_reply"] = boolean(
            routing, "require_match_before_reply", d.require_match_before_reply, "routing")
        rings = section("rings", {"positive_kinds", "min_pair_count", "max_size", "rate_ratio",
                                  "damping_percent"})
        kinds = rings.get("positive_kinds", sorted(d.ring_positive_kinds))
        if not isinstance(kinds, list) or not set(kinds) <= {"upvote", "thanks", "accept"}:
            raise ValueError("rules: rings.positive_kinds must list some of upvote, thanks, accept")
        kw["ring_positive_kinds"] = frozenset(kinds)
        kw["ring_min_pair_count"] = integer(rings, "min_pair_count", d.ring_min_pair_count, "rings", 1)
        kw["ring_max_size"] = integer(rings, "max_size", d.ring_max_size, "rings", 2, 6)
        kw["ring_rate_ratio"] = integer(rings, "rate_ratio", d.ring_rate_ratio, "rings", 1)
        kw["ring_damping_percent"] = integer(rings, "damping_percent", d.ring_damping_percent,
                                             "rings", 0, 100)
        serial = section("serial", {"votes", "window_hours"})
        kw["serial_votes"] = integer(serial, "votes", d.serial_votes, "serial", 1)
        kw["serial_window_s"] = 3600 * integer(serial, "window_hours", d.serial_window_s // 3600, "serial", 1, 24 * 30)
        audit = section("audit", {"zero_entries"})
        kw["zero_entries"] = boolean(audit, "zero_entries", d.zero_entries, "audit")
        limits = section("limits", {"max_pending"})
        kw["max_pending"] = integer(limits, "max_pending", d.max_pending, "limits", 0)
        return cls(**kw)


def load_rules(path: str | Path | None = None) -> RuleTable:
    """Load and validate a rule table; default: rules.toml beside this module."""
    p = Path(path) if path is not None else RULES_PATH
    with p.open("rb") as f:
        table = RuleTable.from_mapping(tomllib.load(f))
    votes = os.environ.get("GOALPOST_SERIAL_VOTES", "").strip()
    if votes:  # the operator's setting (README) over the table's default
        if not votes.isdigit() or int(votes) < 1:
            raise ValueError(f"GOALPOST_SERIAL_VOTES must be a whole number >= 1, got {votes!r}")
        table = dataclasses.replace(table, serial_votes=int(votes))
    return table

