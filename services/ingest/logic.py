"""Validation and normalisation of what clients send: pure functions, no I/O.

Each check raises `ValidationError(field, detail)`; the HTTP layer turns it into problem+json
naming the field, the raw-topic agents into a dead letter with the same reason.
"""
from __future__ import annotations

import functools
import os
import re
import time
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from services.core.contracts import (
    HELPER_ACTIONS,
    REACTION_KINDS,
    RELATION_KINDS,
    Adjustment,
    ContractError,
    HelperAction,
    Post,
    Reaction,
    Relation,
    format_ts,
    parse_ts,
)

MAX_TEXT_CHARS = 4000
MAX_TAGS = 10
MAX_TAG_CHARS = 50
MAX_ID_CHARS = 128
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE_SKEW = timedelta(minutes=5)  # clients' clocks drift; beyond this a timestamp is absurd
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_\-.@/]*$")
# Control characters other than newline and tab (C0, DEL, C1), and lone surrogates.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class ValidationError(ContractError):
    pass


# ---------------------------------------------------------------- ids

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str, now_ms: Optional[int] = None) -> str:
    """A time-ordered unique id (ULID layout: 48-bit milliseconds + 80 random bits, Crockford
    base32), so ids sort by creation time and need no coordination between ingest workers.
    Within one millisecond a process counts up from its random start (ULID's monotonic
    variant): ids stay unique and in order, and the batch route does not pay a getrandom system
    call per post (a tenth of its time)."""
    global _last_ms, _last_time_chars, _last_random
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    if ms == _last_ms and _last_random < _RANDOM_MAX:
        _last_random += 1
    else:  # a new millisecond (or the clock stepped back): a fresh random start
        # 79 random bits: the count within a millisecond cannot overflow into the time.
        _last_ms, _last_random = ms, int.from_bytes(os.urandom(10), "big") >> 1
        _last_time_chars = "".join([_PAIRS[(ms >> shift) & 1023] for shift in (40, 30, 20, 10, 0)])
    # 26 characters of 5 bits = 130 bits, as 13 pairs of 10 bits (a table lookup each): 5 pairs
    # of time (2 zero bits and 48 of milliseconds), 8 of the random part.
    r = _last_random
    return f"{prefix}_{_last_time_chars}{''.join([_PAIRS[(r >> shift) & 1023] for shift in _RANDOM_SHIFTS])}"


_last_ms, _last_time_chars, _last_random = -1, "", 0
_RANDOM_MAX = (1 << 80) - 1
_RANDOM_SHIFTS = tuple(range(70, -1, -10))
_PAIRS = [_CROCKFORD[i >> 5] + _CROCKFORD[i & 31] for i in range(1024)]


# ---------------------------------------------------------------- fields

def normalise_text(value: Any, field: str = "text") -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    text = CONTROL_RE.sub("", unicodedata.normalize("NFC", value)).strip()
    if not text:
        raise ValidationError(field, "must not be empty")
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(field, f"must be at most {MAX_TEXT_CHARS} characters, got {len(text)}")
    return text


def check_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise ValidationError(field, f"must be at most {MAX_ID_CHARS} characters")
    if not ID_RE.match(value):
        raise ValidationError(field, "may hold only letters, digits and : _ - . @ /")
    return value


def parse_timestamp(value: Any, now: datetime, field: str = "created_at", ahead: timedelta = FUTURE_SKEW) -> str:
    """RFC 3339 in, RFC 3339 UTC (milliseconds, Z) out; refuses the absurd (more than `ahead`
    past now, or before 2000)."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be an RFC 3339 string")
    try:
        ts = parse_ts(value, naive_as_utc=False)
    except ValueError:
        raise ValidationError(field, f"is not an RFC 3339 timestamp: {value[:40]!r}") from None
    if ts.tzinfo is None:
        raise ValidationError(field, "needs a time zone offset (e.g. Z)")
    if ts < EARLIEST:
        raise ValidationError(field, "is before 2000-01-01")
    if ts > now + ahead:
        raise ValidationError(field, "is in the future" if ahead == FUTURE_SKEW else f"is more than {ahead.days} days ahead")
    return format_ts(ts)


def normalise_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError("tags", "must be a list of strings")
    out: list[str] = []
    for i, tag in enumerate(value):
        if not isinstance(tag, str):
            raise ValidationError(f"tags[{i}]", "must be a string")
        t = CONTROL_RE.sub("", unicodedata.normalize("NFKC", tag)).strip().lstrip("#").lower()
        t = re.sub(r"\s+", "-", t)
        if not t:
            continue
        if len(t) > MAX_TAG_CHARS:
            raise ValidationError(f"tags[{i}]", f"must be at most {MAX_TAG_CHARS} characters")
        if t not in out:
            out.append(t)
    if len(out) > MAX_TAGS:
        raise ValidationError("tags", f"at most {MAX_TAGS} distinct tags")
    return out


def _require_object(data: Any, *required: str) -> dict:
    """The payload as a dict holding every `required` field (else the first missing is named)."""
    if not isinstance(data, dict):
        raise ValidationError("$", "must be a JSON object")
    for name in required:
        if data.get(name) is None:
            raise ValidationError(name, "is required")
    return data


def _kind(d: dict, kinds: tuple[str, ...]) -> str:
    if d["kind"] not in kinds:
        raise ValidationError("kind", f"must be one of {', '.join(kinds)}")
    return d["kind"]


def _optional_id(data: dict, field: str, prefix: str) -> str:
    return check_id(data[field], field) if data.get(field) is not None else new_id(prefix)


def _created_at(data: dict, now: datetime) -> str:
    if data.get("created_at") is not None:
        return parse_timestamp(data["created_at"], now)
    return _received_at(now)


# format_ts of the last receive time seen: a batch's posts share one, and formatting it for each
# post would be an eighth of the batch route's time.
_received_at = functools.lru_cache(maxsize=1)(format_ts)


# ---------------------------------------------------------------- records

def validate_post(data: Any, source: str, now: Optional[datetime] = None) -> Post:
    now = now or datetime.now(timezone.utc)
    d = _require_object(data, *("author_id", "text"))
    reply_to = d.get("reply_to")
    return Post(
        post_id=_optional_id(d, "post_id", "p"),
        author_id=check_id(d["author_id"], "author_id"),
        text=normalise_text(d["text"]),
        created_at=_created_at(d, now),
        reply_to=check_id(reply_to, "reply_to") if reply_to is not None else None,
        tags=normalise_tags(d.get("tags")),
        source=source,
    )


def validate_reaction(data: Any, now: Optional[datetime] = None) -> Reaction:
    now = now or datetime.now(timezone.utc)
    d = _require_object(data, *("actor_id", "post_id", "kind"))
    kind = _kind(d, REACTION_KINDS)
    return Reaction(reaction_id=_optional_id(d, "reaction_id", "r"),
                    actor_id=check_id(d["actor_id"], "actor_id"),
                    post_id=check_id(d["post_id"], "post_id"), kind=kind,
                    created_at=_created_at(d, now))


def validate_relation(data: Any, now: Optional[datetime] = None) -> Relation:
    now = now or datetime.now(timezone.utc)
    d = _require_object(data, *("actor_id", "target_id", "kind"))
    kind = _kind(d, RELATION_KINDS)
    actor, target = check_id(d["actor_id"], "actor_id"), check_id(d["target_id"], "target_id")
    if actor == target:
        raise ValidationError("target_id", "must differ from actor_id")
    return Relation(relation_id=_optional_id(d, "relation_id", "rel"), actor_id=actor,
                    target_id=target, kind=kind, created_at=_created_at(d, now))


SNOOZE_AHEAD = timedelta(days=90)  # the longest snooze


def validate_helper_action(data: Any, now: Optional[datetime] = None) -> HelperAction:
    """decline / done end an ask for the helper; snooze needs `until`, the time asks resume."""
    now = now or datetime.now(timezone.utc)
    d = _require_object(data, *("helper_id", "post_id", "action"))
    if d["action"] not in HELPER_ACTIONS:
        raise ValidationError("action", f"must be one of {', '.join(HELPER_ACTIONS)}")
    until = None
    if d["action"] == "snooze":
        if d.get("until") is None:
            raise ValidationError("until", "is required to snooze")
        until = parse_timestamp(d["until"], now, field="until", ahead=SNOOZE_AHEAD)
    elif d.get("until") is not None:
        raise ValidationError("until", "is only for snooze")
    return HelperAction(action_id=_optional_id(d, "action_id", "act"), helper_id=check_id(d["helper_id"], "helper_id"),
                        post_id=check_id(d["post_id"], "post_id"), action=d["action"],
                        created_at=_created_at(d, now), until=until)


MAX_ADJUSTMENT = 1_000_000  # points one adjustment may move, either way
MAX_REASON_CHARS = 500


def validate_adjustment(data: Any, now: Optional[datetime] = None) -> Adjustment:
    """An operator's correction: a non-zero whole `delta` and the `reason` for the audit trail."""
    now = now or datetime.now(timezone.utc)
    d = _require_object(data, *("user_id", "delta", "reason"))
    delta = d["delta"]
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_ADJUSTMENT:
        raise ValidationError("delta", f"must be a non-zero whole number of points within ±{MAX_ADJUSTMENT:,}")
    reason = normalise_text(d["reason"], field="reason")
    if not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise ValidationError("reason", f"must say why, in 1 to {MAX_REASON_CHARS} characters")
    return Adjustment(adjustment_id=_optional_id(d, "adjustment_id", "adj"), user_id=check_id(d["user_id"], "user_id"),
                      delta=delta, reason=reason, created_at=_created_at(d, now))
