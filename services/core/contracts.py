"""The outward contract: topics, their keys, and the records that cross them (SPEC.md).

Records are plain dataclasses serialised as plain JSON (no framework metadata). They are not
frozen: nothing changes a record once made, and a frozen dataclass's constructor (one
object.__setattr__ per field) costs 2.6 µs a record against 0.9, on every record of every service. Within a topic
version only optional fields may be added; a breaking change is a new `.v2` topic. The JSON
Schema files in services/core/schemas/ are generated from these classes (`goalpost contracts
schemas`) and golden payloads in services/core/golden/ are checked by the tests.
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import typing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Optional

import orjson

INTENTS = ("goal", "request", "offer", "status")
REACTION_KINDS = ("accept", "unaccept", "upvote", "downvote", "unvote", "thanks", "flag")
RELATION_KINDS = ("follow", "unfollow", "block", "unblock")
HELPER_ACTIONS = ("decline", "snooze", "done")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key_field: str  # the record field whose value is the message key
    record: str  # name of the record class
    compacted: bool = False
    doc: str = ""


TOPICS: dict[str, TopicSpec] = {t.name: t for t in (
    TopicSpec("posts.raw.v1", "author_id", "Post", doc="raw posts from upstream producers (validated by ingest)"),
    TopicSpec("reactions.raw.v1", "post_id", "Reaction", doc="raw reactions from upstream producers"),
    TopicSpec("posts.v1", "author_id", "Post", doc="validated posts"),
    TopicSpec("reactions.v1", "post_id", "Reaction", doc="validated reactions"),
    TopicSpec("relations.v1", "actor_id", "Relation", doc="follows and blocks"),
    TopicSpec("helper.actions.v1", "helper_id", "HelperAction", doc="helpers' answers to asks: decline, snooze, done"),
    TopicSpec("posts.classified.v1", "author_id", "ClassifiedPost", doc="posts with intent and topics"),
    TopicSpec("matches.v1", "post_id", "Match", doc="ranked helpers for goals and requests, one record a wave of asks"),
    TopicSpec("notifications.v1", "helper_id", "Notification", doc="one ask of one helper, for a push service to deliver"),
    TopicSpec("ledger.adjustments.v1", "user_id", "Adjustment", doc="operators' corrections of points, journalled by the ledger"),
    TopicSpec("ledger.credits.v1", "user_id", "Credit",
              doc="internal to the ledger: payments resolved by post, re-keyed by the user paid"),
    TopicSpec("ledger.entries.v1", "user_id", "LedgerEntry", doc="the social currency journal"),
    TopicSpec("ledger.balances.v1", "user_id", "Balance", compacted=True, doc="latest balance per user"),
    TopicSpec("erasures.v1", "user_id", "Erasure", compacted=True, doc="users erased on request (their texts' keys destroyed)"),
    TopicSpec("dlq.v1", "service", "DeadLetter", doc="messages a service could not process, with the reason"),
)}


def utc_now() -> str:
    return format_ts(datetime.now(timezone.utc))


def format_ts(ts: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a Z suffix."""
    # isoformat is C code (strftime and an f-string cost ten times as much, on every record)
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds")[:23] + "Z"


def parse_ts(ts: str, naive_as_utc: bool = True) -> datetime:
    """An RFC 3339 timestamp (a Z, z or an offset) as a datetime; one without an offset counts
    as UTC, or stays naive with `naive_as_utc=False`. Raises ValueError."""
    parsed = datetime.fromisoformat(ts[:-1] + "+00:00" if ts[-1:] in ("Z", "z") else ts)
    if parsed.tzinfo is None and naive_as_utc:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def utc_day(ts: str) -> str:
    """The UTC day (YYYY-MM-DD) of an RFC 3339 timestamp; one without an offset counts as UTC."""
    if ts[10:11] == "T" and ts[-1:] == "Z":  # UTC already (format_ts's form): the day is the prefix
        return ts[:10]
    return parse_ts(ts).astimezone(timezone.utc).date().isoformat()


def epoch_seconds(ts: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (one without an offset counts as UTC)."""
    return parse_ts(ts).timestamp()


class ContractError(ValueError):
    """A payload does not fit its record; `field` names the offending field."""

    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def dumps(obj: Any) -> bytes:
    """orjson.dumps, returned in a bytes object of its own size. orjson 3.12+ hands back its
    whole write buffer (at least 4 KiB however short the JSON): 50,000 small records held at
    once cost 196 MiB of resident memory, copies 8 MiB. Copying is also faster than faulting
    in a fresh 4 KiB page per record (1.1 against 3.7 µs for a reaction)."""
    return bytes(memoryview(orjson.dumps(obj)))


class Record:
    """Base of all records: strict decoding from dicts, plain JSON encoding."""

    topic: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        # A shallow walk instead of dataclasses.asdict (which deep-copies): this is the hot path.
        return {name: _plain(getattr(self, name)) for name in _field_names(type(self))}  # type: ignore[arg-type]  # classes hash by identity

    def to_json(self) -> bytes:
        # orjson walks dataclasses itself (fields in declaration order, nested records and
        # lists included): the same bytes as dumping to_dict(), at a third of the cost.
        return dumps(self)

    def key(self) -> bytes:
        return str(getattr(self, TOPICS[self.topic].key_field)).encode()

    @classmethod
    def from_dict(cls, data: Any):
        if not isinstance(data, dict):
            raise ContractError("$", f"expected a JSON object, got {type(data).__name__}")
        kwargs = {}
        for name, check, required in _field_specs(cls):  # type: ignore[arg-type]
            if name not in data:
                if required:
                    raise ContractError(name, "is required")
                continue
            kwargs[name] = check(name, data[name])
        return cls(**kwargs)

    @classmethod
    def from_json(cls, raw: bytes):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ContractError("$", f"invalid JSON or UTF-8: {exc}") from None
        return cls.from_dict(data)


@functools.lru_cache(maxsize=None)
def _field_specs(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, checker, required) per field; resolving the annotations is slow, so once per class."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _checker(hints[f.name]),
                  f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
                 for f in dataclasses.fields(cls))


@functools.lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@functools.lru_cache(maxsize=None)
def _checker(hint: Any):
    """A function (field name, value) -> value that type-checks one field against its annotation
    (the subset of types records use). Built once per annotation: decoding is a hot path."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        inner = _checker([a for a in args if a is not type(None)][0])
        return lambda name, value: None if value is None else inner(name, value)
    if origin is list:
        item = _checker(args[0])

        def check_list(name: str, value: Any) -> list:
            if not isinstance(value, list):
                raise ContractError(name, "must be a list")
            if args[0] is str and all(type(v) is str for v in value):
                return value  # the common case, without building a name per item
            return [item(f"{name}[{i}]", v) for i, v in enumerate(value)]
        return check_list
    if origin is dict:
        val = _checker(args[1])

        def check_dict(name: str, value: Any) -> dict:
            if not isinstance(value, dict):
                raise ContractError(name, "must be an object")
            if args[1] is float and all(type(v) is float for v in value.values()):
                return value
            return {str(k): val(f"{name}.{k}", v) for k, v in value.items()}
        return check_dict
    if isinstance(hint, type) and issubclass(hint, Record):
        return lambda name, value: hint.from_dict(value)
    if hint is float:
        def check_float(name: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ContractError(name, "must be a number")
            return float(value)
        return check_float
    if hint is int:
        def check_int(name: str, value: Any) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ContractError(name, "must be an integer")
            return value
        return check_int
    if hint is str:
        def check_str(name: str, value: Any) -> str:
            if not isinstance(value, str):
                raise ContractError(name, "must be a string")
            return value
        return check_str
    return lambda name, value: value


@dataclass
class Post(Record):
    topic: ClassVar[str] = "posts.v1"
    post_id: str
    author_id: str
    text: str
    created_at: str
    reply_to: Optional[str] = None
    tags: list[str] = field(default_factory=list)
    source: str = "unknown"


@dataclass
class Reaction(Record):
    topic: ClassVar[str] = "reactions.v1"
    reaction_id: str
    actor_id: str
    post_id: str
    kind: str
    created_at: str


@dataclass
class Relation(Record):
    topic: ClassVar[str] = "relations.v1"
    relation_id: str
    actor_id: str
    target_id: str
    kind: str
    created_at: str


@dataclass
class HelperAction(Record):
    """A helper's answer to an ask: `decline` and `done` end it for that helper, `snooze` holds
    every ask to them until `until`."""
    topic: ClassVar[str] = "helper.actions.v1"
    action_id: str
    helper_id: str
    post_id: str
    action: str
    created_at: str
    until: Optional[str] = None


@dataclass
class ClassifiedPost(Record):
    topic: ClassVar[str] = "posts.classified.v1"
    post_id: str
    author_id: str
    text: str
    created_at: str
    intent: str
    confidence: float
    scores: dict[str, float]
    model_version: str
    topics: list[str]
    reply_to: Optional[str] = None
    tags: list[str] = field(default_factory=list)
    source: str = "unknown"


@dataclass
class Candidate(Record):
    helper_id: str
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class Match(Record):
    topic: ClassVar[str] = "matches.v1"
    post_id: str
    author_id: str
    intent: str
    topics: list[str]
    candidates: list[Candidate]
    matched_at: str
    model_version: str
    wave: Optional[int] = None  # 1, 2, ...: which wave of asks this record is
    asked: Optional[list[str]] = None  # the helpers asked in this wave (absent: every candidate)

    def asked_ids(self) -> list[str]:
        return list(self.asked) if self.asked is not None else [c.helper_id for c in self.candidates]


@dataclass
class Notification(Record):
    """One ask of one helper. The id follows from (post, helper, wave), so a replay or a
    restart that sends the same ask again sends the same id: consumers dedupe by it."""
    topic: ClassVar[str] = "notifications.v1"
    notification_id: str
    helper_id: str
    post_id: str
    author_id: str
    intent: str
    topics: list[str]
    wave: int
    reasons: list[str]
    created_at: str


@dataclass
class Adjustment(Record):
    """An operator's correction of a user's points (ingest's POST /v1/ledger/adjustments, admin
    scope); the ledger journals it once as an entry with reason `adjustment`."""
    topic: ClassVar[str] = "ledger.adjustments.v1"
    adjustment_id: str
    user_id: str
    delta: int
    reason: str
    created_at: str
    requested_by: str = ""  # the name of the API key that asked for it


@dataclass
class Erasure(Record):
    """A user erased on request (ingest's POST /v1/users/{user_id}/erase, admin scope). Their
    texts' key is destroyed; every service forgets them and never brings them back."""
    topic: ClassVar[str] = "erasures.v1"
    erasure_id: str
    user_id: str
    requested_at: str


@dataclass
class LedgerEntry(Record):
    topic: ClassVar[str] = "ledger.entries.v1"
    entry_id: str
    user_id: str
    delta: int
    reason: str
    source_event_id: str
    created_at: str


@dataclass
class Credit(Record):
    """Internal to the ledger (its repartition topic): one payment that the ledger's resolver,
    keyed by post, decided for the user it pays, or its reversal, or a user's erasure. The
    ledger worker that owns the user's partition applies the daily cap and journals it under
    `credit_id`, which is the entry's id."""
    topic: ClassVar[str] = "ledger.credits.v1"
    credit_id: str
    user_id: str
    op: str  # grant, reverse or erase
    amount: int  # grant: points after ring damping, before the daily cap
    base: str  # the base reason (entry ids derive from it)
    reason: str  # grant: the reason so far (":dampened"); reverse: the reason of the reversal, or "" for "<granted reason>:reversed"
    source_event_id: str
    created_at: str
    cap_day: Optional[str] = None  # grant: the UTC day whose vote cap it counts against
    reverses: Optional[str] = None  # reverse: the credit_id of the grant it reverses


@dataclass
class Balance(Record):
    topic: ClassVar[str] = "ledger.balances.v1"
    user_id: str
    balance: int
    updated_at: str
    last_entry_id: str


@dataclass
class DeadLetter(Record):
    topic: ClassVar[str] = "dlq.v1"
    service: str
    topic_name: str  # serialised as "topic" (see to_dict): `topic` is the ClassVar of every record
    partition: Optional[int]
    offset: Optional[int]
    error: str
    payload: str  # the original bytes, base64
    failed_at: str

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["topic"] = d.pop("topic_name")
        return d

    def to_json(self) -> bytes:  # the renamed field needs the dict walk
        return dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any):
        if isinstance(data, dict) and "topic" in data:
            data = {**data, "topic_name": data["topic"]}
            data.pop("topic")
        return super().from_dict(data)

    @classmethod
    def of(cls, service: str, topic: str, partition: Optional[int], offset: Optional[int],
           error: str, payload: bytes) -> "DeadLetter":
        return cls(service=service, topic_name=topic, partition=partition, offset=offset,
                   error=error[:2000], payload=base64.b64encode(payload).decode(), failed_at=utc_now())

    def key(self) -> bytes:
        return self.service.encode()


RECORDS: dict[str, type[Record]] = {c.__name__: c for c in (
    Post, Reaction, Relation, HelperAction, ClassifiedPost, Candidate, Match, Notification, Adjustment, Erasure,
    Credit, LedgerEntry, Balance, DeadLetter)}


def record_for_topic(topic: str) -> type[Record]:
    return RECORDS[TOPICS[topic].record]


# ---- JSON Schema generation (committed under services/core/schemas/) ----

def json_schema(cls: type[Record]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        wire = "topic" if (cls is DeadLetter and f.name == "topic_name") else f.name
        props[wire] = _schema_of(hints[f.name])
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(wire)
    enums = {"intent": list(INTENTS), "kind": list(REACTION_KINDS if cls is Reaction else RELATION_KINDS),
             "action": list(HELPER_ACTIONS)}
    for name, values in enums.items():
        if name in props and props[name].get("type") == "string":
            props[name]["enum"] = values
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": cls.__name__,
              "type": "object", "properties": props, "required": required, "additionalProperties": True}
    if cls.topic:
        schema["x-topic"] = cls.topic
        schema["x-key"] = TOPICS[cls.topic].key_field if cls is not DeadLetter else "service"
    return schema


def _schema_of(hint: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        inner = _schema_of([a for a in args if a is not type(None)][0])
        return {"anyOf": [inner, {"type": "null"}]}
    if origin is list:
        return {"type": "array", "items": _schema_of(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(args[1])}
    if isinstance(hint, type) and issubclass(hint, Record):
        return {"$ref": f"{hint.__name__}.json"}
    return {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"}}.get(hint, {})
