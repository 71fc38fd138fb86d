"""The OpenAPI 3 document of the ingest, served at GET /openapi.json."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from services.core.contracts import HELPER_ACTIONS, REACTION_KINDS, RELATION_KINDS
from services.ingest.logic import MAX_ADJUSTMENT, MAX_ID_CHARS, MAX_REASON_CHARS, MAX_TAG_CHARS, MAX_TAGS, MAX_TEXT_CHARS

ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS, "pattern": r"^[A-Za-z0-9][A-Za-z0-9:_\-.@/]*$"}
TS = {"type": "string", "format": "date-time", "description": "RFC 3339 with offset; normalised to UTC"}


def _problem_response(desc: str) -> dict[str, Any]:
    return {"description": desc, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _write(summary: str, schema: str, id_field: str, scope: str = "write") -> dict[str, Any]:
    return {"post": {
        "summary": summary, "security": [{"bearer": []}],
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}},
        "responses": {
            "202": {"description": "accepted and durably written",
                    "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "status": {"type": "string", "enum": ["accepted"]}, id_field: {"type": "string"}}}}}},
            "200": {"description": "a repeat within the idempotency window; nothing new written",
                    "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "status": {"type": "string", "enum": ["duplicate"]}, id_field: {"type": "string"}}}}}},
            "400": _problem_response("body is not JSON"), "401": _problem_response("missing or wrong API key"), "403": _problem_response(f"the API key lacks the {scope} scope"),
            "413": _problem_response("body too large"), "422": _problem_response("a field is invalid (named in `field`)"),
            "429": _problem_response("rate limited; see Retry-After"), "503": _problem_response("event log unavailable; retry"),
        }}}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    post_in = {"type": "object", "required": ["author_id", "text"], "properties": {
        "post_id": ID, "author_id": ID, "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
        "created_at": TS, "reply_to": {"anyOf": [ID, {"type": "null"}]},
        "tags": {"type": "array", "maxItems": MAX_TAGS, "items": {"type": "string", "maxLength": MAX_TAG_CHARS}}}}
    reaction_in = {"type": "object", "required": ["actor_id", "post_id", "kind"], "properties": {
        "reaction_id": ID, "actor_id": ID, "post_id": ID, "kind": {"type": "string", "enum": list(REACTION_KINDS)},
        "created_at": TS}}
    relation_in = {"type": "object", "required": ["actor_id", "target_id", "kind"], "properties": {
        "relation_id": ID, "actor_id": ID, "target_id": ID, "kind": {"type": "string", "enum": list(RELATION_KINDS)},
        "created_at": TS}}
    action_in = {"type": "object", "required": ["helper_id", "post_id", "action"], "properties": {
        "action_id": ID, "helper_id": ID, "post_id": ID, "action": {"type": "string", "enum": list(HELPER_ACTIONS)},
        "until": TS, "created_at": TS}}
    adjustment_in = {"type": "object", "required": ["user_id", "delta", "reason"], "properties": {
        "adjustment_id": ID, "user_id": ID,
        "delta": {"type": "integer", "minimum": -MAX_ADJUSTMENT, "maximum": MAX_ADJUSTMENT, "not": {"const": 0}},
        "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON_CHARS}, "created_at": TS}}
    batch = _write("Write many posts (a JSON array, or NDJSON)", "PostBatch", "post_id")
    batch["post"]["requestBody"]["content"]["application/x-ndjson"] = {"schema": {"type": "string"}}
    batch["post"]["responses"]["202"] = {"description": "per-item results", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"accepted": {"type": "integer"}, "duplicate": {"type": "integer"},
                                         "rejected": {"type": "integer"}, "results": {"type": "array", "items": {"type": "object"}}}}}}}
    del batch["post"]["responses"]["200"]
    batch["post"]["responses"]["422"] = _problem_response(
        "no item was valid: `field` names the first item's field (e.g. `[0].text`), `results` lists every item")
    return {
        "openapi": "3.0.3",
        "info": {"title": "Goalpost ingest", "version": "1.0.0",
                 "description": "Posts, reactions and relations in; validated records out on Kafka."},
        "paths": {
            "/v1/posts": _write("Write one post", "PostInput", "post_id"),
            "/v1/posts/batch": batch,
            "/v1/reactions": _write("Write one reaction", "ReactionInput", "reaction_id"),
            "/v1/relations": _write("Write one relation", "RelationInput", "relation_id"),
            "/v1/helper-actions": _write("A helper declines, snoozes (until a time) or is done with an ask",
                                         "HelperActionInput", "action_id"),
            "/v1/users/{user_id}/erase": {"post": {
                "summary": "Erase a user: their texts' key is destroyed at once and every service forgets them",
                "security": [{"bearer": []}],
                "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": ID}],
                "responses": {
                    "202": {"description": "the key is destroyed; the Erasure is on erasures.v1",
                            "content": {"application/json": {"schema": {"type": "object", "properties": {
                                "status": {"type": "string", "enum": ["accepted"]}, "erasure_id": {"type": "string"},
                                "user_id": {"type": "string"}}}}}},
                    "401": _problem_response("missing or wrong API key"),
                    "403": _problem_response("the API key lacks the admin scope"),
                    "422": _problem_response("user_id is not a valid id"),
                    "503": _problem_response("the key is destroyed but the event log is unavailable; retry")}}},
            "/v1/ledger/adjustments": _write("An operator corrects a user's points (journalled once, reason `adjustment`)",
                                             "AdjustmentInput", "adjustment_id", scope="admin"),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "PostInput": post_in, "ReactionInput": reaction_in, "RelationInput": relation_in, "HelperActionInput": action_in,
                "AdjustmentInput": adjustment_in,
                "PostBatch": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/PostInput"}},
                "Problem": {"type": "object", "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                            "status": {"type": "integer"}, "detail": {"type": "string"}, "field": {"type": "string"}}},
            }},
    }
