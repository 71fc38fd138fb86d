"""ingest: the front door. HTTP routes and the raw topics, validated, idempotent,
authenticated, rate limited, and durable (202 only after Kafka acknowledged with acks=all)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Optional

import orjson

from services.core.contracts import Erasure, Post, Record, utc_now
from services.core.kafka_io import GroupLag
from services.core.privacy import ERASE_LUA, ERASED_LUA, erased_token, seal
from services.core.privacy import ERASED as ERASED_USERS
from services.core.privacy import KEY_NAMES as PRIVACY_KEYS
from services.core.runtime import API_KEY, Runtime, event, json_response, problem, retry_forever
from services.core.settings import Settings
from services.ingest import metrics as m
from services.ingest.guards import PENDING, PENDING_TTL_S, Admission, Guards
from services.ingest.logic import (
    ValidationError,
    check_id,
    new_id,
    validate_adjustment,
    validate_helper_action,
    validate_post,
    validate_reaction,
    validate_relation,
)
from services.ingest.openapi import openapi_document

MAX_BODY_BYTES = 64 * 1024 * 1024
# A client waits for Kafka's ack: send at once. Under load batches still form while the previous
# produce request of a partition is in flight.
LINGER_MS = 0
SEND_TIMEOUT_S = 3.0  # with the broker down, answer 503 quickly instead of hanging

class InProgress(Exception):
    """An idempotency key is held by a write that has not been acknowledged yet."""


class Kind:
    """What differs between posts, reactions and relations on the write path."""

    def __init__(self, name: str, id_field: str, validate: Callable[[Any], Record], author_field: str,
                 by_field: Optional[str] = None):
        self.name, self.id_field, self.validate, self.author_field = name, id_field, validate, author_field
        self.by_field = by_field  # a field the writing API key's name fills (who asked, for audits)


POSTS = Kind("post", "post_id", lambda d: validate_post(d, source="http"), "author_id")
REACTIONS = Kind("reaction", "reaction_id", validate_reaction, "actor_id")
RELATIONS = Kind("relation", "relation_id", validate_relation, "actor_id")
HELPER_ACTIONS = Kind("helper_action", "action_id", validate_helper_action, "helper_id")
ADJUSTMENTS = Kind("adjustment", "adjustment_id", validate_adjustment, "user_id", by_field="requested_by")
RAW_POSTS = Kind("post", "post_id", lambda d: validate_post(d, source="topic:posts.raw.v1"), "author_id")


ERASED = "was erased: its id takes no more writes"
RAW_TOPICS = ("posts.raw.v1", "reactions.raw.v1")
TRUNCATE_RAW_EVERY_S = 30.0



def idempotency_key(kind: Kind, data: Any, record: Record, header: Optional[str],
                     key_name: str = "") -> Optional[str]:
    if header:  # scoped by API key: two clients may pick the same Idempotency-Key
        return f"hdr:{key_name}:{header}"
    if isinstance(data, dict) and data.get(kind.id_field) is not None:
        return getattr(record, kind.id_field)
    return None  # the id was assigned here: it cannot be a repeat


def too_many(view, admission: Admission) -> Any:
    bucket = admission.refused.split(":")[0]
    m.RATE_LIMITED.labels(bucket).inc()
    return problem(view, 429, "Too Many Requests", f"rate limit per {bucket} exceeded",
                   headers={"Retry-After": str(max(1, int(admission.wait_s + 0.999)))})


def parse_batch(body: bytes, content_type: str) -> list[Any]:
    """A JSON array, or NDJSON (one JSON value per line). Raises ValueError with the place."""
    stripped = body.lstrip()
    if stripped.startswith(b"[") and "ndjson" not in content_type:
        items = orjson.loads(body)
        return items
    items = []
    for lineno, line in enumerate(body.splitlines(), 1):
        if line.strip():
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"line {lineno}: {exc}") from None
    return items


def validate_raw(messages: list, kind: Kind) -> tuple[list[tuple[Any, Record, Optional[str]]], list[tuple[Any, str, bytes]]]:
    """(message, record, idempotency key) of each valid message of a raw topic, and (message,
    reason, payload) of the others."""
    valid: list[tuple[Any, Record, Optional[str]]] = []
    dead: list[tuple[Any, str, bytes]] = []
    for msg in messages:
        try:
            data = orjson.loads(msg.value)
            record = kind.validate(data)
        except orjson.JSONDecodeError as exc:
            dead.append((msg, f"$: invalid JSON or UTF-8: {exc}", msg.value or b""))
            continue
        except ValidationError as exc:
            m.REJECTED.labels(kind.name, exc.field).inc()
            dead.append((msg, str(exc), msg.value or b""))
            continue
        valid.append((msg, record, idempotency_key(kind, data, record, None)))
    return valid, dead


class Ingest:
    """The write paths (HTTP and raw topics) of one ingest worker, on its runtime."""

    def __init__(self, rt: Runtime):
        self.rt, self.settings = rt, rt.settings
        self._guards: Optional[Guards] = None

    @property
    def guards(self) -> Guards:
        if self._guards is None:
            assert self.rt.redis is not None
            self._guards = Guards(self.rt.redis, self.settings.idempotency_window_s)
        return self._guards

    async def seal(self, posts: list[Post]) -> list[bool]:
        """Seals each post's text with its author's key (made on first use), in place. False for a
        post whose author was erased: it is refused, never written."""
        keys = await self.rt.keyring.keys_for([p.author_id for p in posts], create=True)
        ok = []
        for post in posts:
            key = keys.get(post.author_id)
            if key is not None:
                post.text = seal(key, post.text, post.author_id)
            ok.append(key is not None)
        return ok

    async def erased(self, users: list[str]) -> set[str]:
        """The users among `users` who were erased."""
        if not users:
            return set()
        flags = await self.rt.script("erased", ERASED_LUA)(keys=[ERASED_USERS], args=[erased_token(u) for u in users])
        return {u for u, flag in zip(users, flags) if flag}

    async def by_live_users(self, kind: Kind, records: list[Record]) -> list[bool]:
        """For each record, False when its writer (`kind.author_field`) was erased: it is refused,
        never written. Posts are sealed on the way (their author's key answers both)."""
        if kind.name == POSTS.name:
            return await self.seal(records)  # type: ignore[arg-type]
        erased = await self.erased([getattr(r, kind.author_field) for r in records])
        return [getattr(r, kind.author_field) not in erased for r in records]

    async def erase_user(self, view, request, user_id: str) -> Any:
        """Erases a user: their texts' key is destroyed at once (every copy of their posts on every
        topic is unreadable from then on), and an Erasure on erasures.v1 tells every service to
        forget them. Idempotent: erasing again sends another Erasure and changes nothing else."""
        try:
            user_id = check_id(user_id, "user_id")
        except ValidationError as exc:
            return problem(view, 422, "Unprocessable Content", exc.detail, field=exc.field)
        await self.rt.script("erase", ERASE_LUA)(keys=PRIVACY_KEYS, args=[user_id, erased_token(user_id)])
        self.rt.keyring.forget(user_id)
        erasure = Erasure(erasure_id=new_id("era"), user_id=user_id, requested_at=utc_now())
        try:
            await self.send([erasure])
        except Exception as exc:  # the key is gone already; the services learn of it on a retry
            event("produce failed", kind="erasure", error=repr(exc))
            return problem(view, 503, "Service Unavailable", "the key is destroyed but the event log is "
                           "unavailable; retry to tell the services", headers={"Retry-After": "1"})
        m.ACCEPTED.labels("erasure").inc()
        return json_response(view, {"status": "accepted", "erasure_id": erasure.erasure_id, "user_id": user_id}, 202)

    async def send(self, records: list[Record]) -> None:
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(SEND_TIMEOUT_S):  # no extra task per call, unlike wait_for
            await self.rt.send_records(records)
        m.PRODUCE_SECONDS.observe(asyncio.get_running_loop().time() - started)

    async def key_and_body(self, view, request) -> tuple[str, bytes, Any]:
        """(API key name, body, None), or (.., .., the problem response) when the body is refused.
        The key was checked by the route (scope "write")."""
        name = request[API_KEY].name
        body = await request.read()
        if len(body) > MAX_BODY_BYTES:
            return name, b"", problem(view, 413, "Payload Too Large", f"body over {MAX_BODY_BYTES} bytes")
        return name, body, None

    async def write_one(self, kind: Kind, view, request) -> Any:
        key_name, body, refused = await self.key_and_body(view, request)
        if refused:
            return refused
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            m.REJECTED.labels(kind.name, "$").inc()
            return problem(view, 400, "Bad Request", f"body is not valid JSON in UTF-8: {exc}", field="$")
        try:
            record = kind.validate(data)
        except ValidationError as exc:
            m.REJECTED.labels(kind.name, exc.field).inc()
            return problem(view, 422, "Unprocessable Content", exc.detail, field=exc.field)
        if not (await self.by_live_users(kind, [record]))[0]:
            m.REJECTED.labels(kind.name, kind.author_field).inc()
            return problem(view, 422, "Unprocessable Content",
                           f"{kind.author_field} {getattr(record, kind.author_field)} {ERASED}", field=kind.author_field)
        if kind.by_field:
            setattr(record, kind.by_field, key_name)
        record_id = getattr(record, kind.id_field)
        idem = idempotency_key(kind, data, record, request.headers.get("Idempotency-Key"), key_name)
        claims = [(idem, record_id)] if idem is not None else []
        admission = await self.guards.admit([(f"key:{key_name}", self.settings.rate_per_key),
                                           (f"author:{getattr(record, kind.author_field)}", self.settings.rate_per_author)],
                                          1, kind.name, claims)
        if not admission.allowed:
            return too_many(view, admission)
        (previous,) = admission.previous or [None]
        if previous is not None and previous.startswith(PENDING):
            return problem(view, 503, "Service Unavailable", "a write with this id is in progress; retry",
                           headers={"Retry-After": "1"})
        if previous is not None:
            m.DUPLICATES.labels(kind.name).inc()
            return json_response(view, {"status": "duplicate", kind.id_field: previous}, 200)
        try:
            await self.send_claimed(kind.name, [record], claims, self.send)
        except Exception as exc:  # broker unreachable or timed out: nothing was acknowledged
            event("produce failed", kind=kind.name, error=repr(exc))
            return problem(view, 503, "Service Unavailable", "the event log is unavailable; retry later",
                           headers={"Retry-After": "1"})
        m.ACCEPTED.labels(kind.name).inc()
        return json_response(view, {"status": "accepted", kind.id_field: record_id}, 202)

    async def write_batch(self, view, request) -> Any:
        key_name, body, refused = await self.key_and_body(view, request)
        if refused:
            return refused
        try:
            items = parse_batch(body, request.headers.get("Content-Type", ""))
        except (ValueError, orjson.JSONDecodeError) as exc:
            return problem(view, 400, "Bad Request", f"body is neither a JSON array nor NDJSON: {exc}", field="$")
        if not items:
            return problem(view, 422, "Unprocessable Content", "the batch is empty", field="$")
        if len(items) > self.settings.batch_max_items:
            return problem(view, 413, "Payload Too Large",
                           f"at most {self.settings.batch_max_items} items per batch, got {len(items)}", field="$")
        admission = await self.guards.admit([(f"key:{key_name}", self.settings.rate_per_key)], len(items), "post", [])
        if not admission.allowed:
            return too_many(view, admission)
        results: list[dict] = [{} for _ in items]
        fresh: list[tuple[int, Post, Optional[str]]] = []
        now = datetime.now(timezone.utc)  # one receive time for the whole batch
        for i, data in enumerate(items):
            try:
                post = validate_post(data, source="http", now=now)
            except ValidationError as exc:
                m.REJECTED.labels("post", exc.field).inc()
                results[i] = {"index": i, "status": "rejected", "field": exc.field, "error": exc.detail}
                continue
            fresh.append((i, post, idempotency_key(POSTS, data, post, None)))
        sealed = await self.by_live_users(POSTS, [p for _, p, _ in fresh])
        for (i, _, _), ok in zip(fresh, sealed):
            if not ok:
                m.REJECTED.labels("post", "author_id").inc()
                results[i] = {"index": i, "status": "rejected", "field": "author_id", "error": ERASED}
        fresh = [item for item, ok in zip(fresh, sealed) if ok]
        claims = [(idem, p.post_id) for _, p, idem in fresh if idem is not None]
        previous = iter(await self.guards.claim("post", claims))
        to_send: list[tuple[int, Post]] = []
        new_claims: list[tuple[str, str]] = []
        in_progress = False
        for i, post, idem in fresh:
            prior = next(previous) if idem is not None else None
            if prior is None:
                to_send.append((i, post))
                if idem is not None:
                    new_claims.append((idem, post.post_id))
            elif prior.startswith(PENDING):
                in_progress = True
            else:
                m.DUPLICATES.labels("post").inc()
                results[i] = {"index": i, "status": "duplicate", "post_id": prior}
        if in_progress:  # another request is writing some of these ids: all or nothing, retry
            await self.guards.release("post", [key for key, _ in new_claims])
            return problem(view, 503, "Service Unavailable", "some items of this batch are being written by "
                           "another request; nothing of it was accepted; retry", headers={"Retry-After": "1"})
        try:
            await self.send_claimed("post", [p for _, p in to_send], new_claims, self.send)
        except Exception as exc:
            event("produce failed", kind="post-batch", error=repr(exc), items=len(to_send))
            return problem(view, 503, "Service Unavailable", "the event log is unavailable; nothing of this batch "
                           "was accepted; retry later", headers={"Retry-After": "1"})
        for i, post in to_send:
            results[i] = {"index": i, "status": "accepted", "post_id": post.post_id}
        m.ACCEPTED.labels("post").inc(len(to_send))
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "duplicate", "rejected")}
        if counts["accepted"] or counts["duplicate"]:
            return json_response(view, {**counts, "results": results}, 202)
        first = results[0]  # nothing taken: a problem naming the first item's field, with every item's result
        return problem(view, 422, "Unprocessable Content", f"no item of the batch was valid; item 0: {first['error']}",
                       field=f"[{first['index']}].{first['field']}", accepted=counts["accepted"],
                       duplicate=counts["duplicate"], rejected=counts["rejected"], results=results)



    async def ingest_raw(self, messages: list, kind: Kind) -> None:
        """A batch of a raw topic: invalid messages and erased writers' go to the dead letter
        topic with the reason, repeats are dropped, the rest is published."""
        valid, dead = validate_raw(messages, kind)
        for msg, reason, payload in dead:
            await self.rt.dead_letter(msg.topic, msg.partition, msg.offset, reason, payload)
        if valid:
            live = await self.by_live_users(kind, [r for _, r, _ in valid])
            for (msg, _, _), ok in zip(valid, live):
                if not ok:  # without its payload: an erased user's text must not reach another topic in clear
                    await self.rt.dead_letter(msg.topic, msg.partition, msg.offset, f"{kind.author_field}: {ERASED}", b"")
            valid = [v for v, ok in zip(valid, live) if ok]
        claims = [(idem, getattr(r, kind.id_field)) for _, r, idem in valid if idem is not None]
        for _ in range(PENDING_TTL_S + 5):
            previous = await self.guards.claim(kind.name, claims)
            new_claims = [c for c, prior in zip(claims, previous) if prior is None]
            if not any(p is not None and p.startswith(PENDING) for p in previous):
                break
            # Some ids are being written by someone else (or by a writer that died: its claim expires).
            await self.guards.release(kind.name, [key for key, _ in new_claims])
            await asyncio.sleep(1)
        else:
            raise InProgress("idempotency claims stayed pending")  # not acknowledged: redelivered
        confirmed = {key for (key, _), prior in zip(claims, previous) if prior is not None}
        out = [record for _, record, idem in valid if idem not in confirmed]
        m.DUPLICATES.labels(kind.name).inc(len(valid) - len(out))
        # raises when not sent: the batch is not acknowledged and comes again
        await self.send_claimed(kind.name, out, new_claims, self.rt.send_records)
        m.ACCEPTED.labels(kind.name).inc(len(out))

    async def send_claimed(self, kind: str, records: list[Record], claims: list[tuple[str, str]],
                           send: Callable[[list[Record]], Awaitable[Any]]) -> None:
        """Sends records whose idempotency keys this writer claimed: the claims are confirmed once
        Kafka acknowledged, released (and the error raised) when it did not."""
        try:
            await send(records)
        except Exception:
            await self.guards.release(kind, [key for key, _ in claims])
            raise
        await self.guards.confirm(kind, claims)

    async def truncate_raw(self) -> None:
        """Deletes what ingest has consumed from the raw topics, so upstream's clear texts do not
        outlive their validation by more than TRUNCATE_RAW_EVERY_S (an erased user's included)."""
        async def truncate() -> None:
            await asyncio.sleep(TRUNCATE_RAW_EVERY_S)
            async with GroupLag(self.settings.kafka_bootstrap, self.rt.group_id, RAW_TOPICS) as group:
                await group.delete_consumed()
        await retry_forever("raw topic truncation", truncate, 0)  # broker away: next time


def build(settings: Optional[Settings] = None) -> Runtime:
    rt = Runtime("ingest", settings, linger_ms=LINGER_MS)
    ingest = Ingest(rt)
    rt.route("/v1/posts", lambda v, r: ingest.write_one(POSTS, v, r), methods=("POST",), scope="write")
    rt.route("/v1/posts/batch", ingest.write_batch, methods=("POST",), scope="write")
    rt.route("/v1/reactions", lambda v, r: ingest.write_one(REACTIONS, v, r), methods=("POST",), scope="write")
    rt.route("/v1/relations", lambda v, r: ingest.write_one(RELATIONS, v, r), methods=("POST",), scope="write")
    rt.route("/v1/helper-actions", lambda v, r: ingest.write_one(HELPER_ACTIONS, v, r), methods=("POST",), scope="write")
    rt.route("/v1/users/{user_id:.+}/erase", ingest.erase_user, methods=("POST",), scope="admin")
    rt.route("/v1/ledger/adjustments", lambda v, r: ingest.write_one(ADJUSTMENTS, v, r), methods=("POST",), scope="admin")
    rt.serve_openapi(openapi_document())
    rt.stream_batches("posts.raw.v1", lambda records: ingest.ingest_raw(records, RAW_POSTS))
    rt.stream_batches("reactions.raw.v1", lambda records: ingest.ingest_raw(records, REACTIONS))
    rt.app.task(ingest.truncate_raw)
    rt.state_recovered.set()  # ingest keeps no state of its own
    return rt
