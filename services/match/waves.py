"""Asks in waves: who is asked, in which wave, and when the next wave is due.

Pure rules, no I/O: the service keeps the state they read in Redis (services/match/asks.py) and
`goalpost eval asks` keeps it in memory (services/match/eval_asks.py); both call these.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Collection, Optional, Sequence

from services.core.contracts import Candidate, ClassifiedPost, Match, Notification

_NOTIFICATION_IDS = uuid.UUID("4f1f0c7e-2b8a-5d3e-9c61-6a7b8c9d0e1f")  # namespace of notification ids


@dataclass(frozen=True)
class WavePolicy:
    size: int = 3           # helpers asked in each wave
    after_s: float = 600.0  # no reply this long after a wave: the next one is due
    max_waves: int = 3

    def __post_init__(self) -> None:
        if self.size < 1 or self.max_waves < 1 or self.after_s < 0:
            raise ValueError(f"wave size and max waves must be >= 1 and the wait >= 0, got {self}")


@dataclass(frozen=True)
class Step:
    """What is due for one post: ask `count` more helpers as part of wave `wave`."""
    wave: int
    count: int
    new_wave: bool  # False: replacements for declines within the current wave


def notification_id(post_id: str, helper_id: str, wave: int) -> str:
    """Deterministic: a restart or a replay that asks again writes the same id."""
    return str(uuid.uuid5(_NOTIFICATION_IDS, json.dumps([post_id, helper_id, wave])))  # JSON: no two inputs alike


def due_step(waves_sent: int, replacements: int, policy: WavePolicy) -> Optional[Step]:
    """The step due for a post whose timer fired: replacements for declines first (within the
    wave they declined), else the next wave while waves remain; None when nothing is left."""
    if replacements > 0 and waves_sent >= 1:
        return Step(waves_sent, replacements, new_wave=False)
    if waves_sent < policy.max_waves:
        return Step(waves_sent + 1, policy.size, new_wave=True)
    return None


def next_wave_at(wave: int, sent_at: float, policy: WavePolicy) -> Optional[float]:
    """When the wave after `wave` (sent at `sent_at`) is due; None after the last wave."""
    return sent_at + policy.after_s if wave < policy.max_waves else None


def choose(ranked: Sequence[Candidate], asked: Collection[str], count: int) -> list[Candidate]:
    """The best `count` ranked candidates not asked before (in any wave, declined or not)."""
    return [c for c in ranked if c.helper_id not in asked][:count]


def wave_match(post: ClassifiedPost, ranked: list[Candidate], chosen: list[Candidate], wave: int,
               matched_at: str, model_version: str) -> Match:
    return Match(post_id=post.post_id, author_id=post.author_id, intent=post.intent, topics=post.topics,
                 candidates=ranked, matched_at=matched_at, model_version=model_version,
                 wave=wave, asked=[c.helper_id for c in chosen])


def notifications(match: Match, chosen: list[Candidate]) -> list[Notification]:
    """One Notification for each helper asked in `match` (a wave Match)."""
    wave = match.wave or 1
    return [Notification(notification_id=notification_id(match.post_id, c.helper_id, wave),
                         helper_id=c.helper_id, post_id=match.post_id, author_id=match.author_id,
                         intent=match.intent, topics=match.topics, wave=wave, reasons=list(c.reasons),
                         created_at=match.matched_at)
            for c in chosen]
