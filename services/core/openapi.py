"""OpenAPI 3 documents of the read services (classify, match, ledger), each served at
GET /openapi.json. Ingest's write API has its own (services/ingest/openapi.py)."""
from __future__ import annotations

from typing import Any

from services.core.contracts import INTENTS

PROBLEM = {"type": "object", "required": ["title", "status", "detail"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "field": {"type": "string", "description": "the offending input field"}}}


def _problem(desc: str) -> dict[str, Any]:
    return {"description": desc, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _refusals(extra: dict[str, str]) -> dict[str, Any]:
    out = {"401": _problem("no or unknown API key"), "403": _problem("the API key lacks the read scope"),
           "503": _problem("a dependency is unavailable; retry")}
    out.update({code: _problem(desc) for code, desc in extra.items()})
    return out


def _get(summary: str, params: list[dict], body: dict, errors: dict[str, str]) -> dict[str, Any]:
    return {"get": {"summary": summary, "security": [{"bearer": []}], "parameters": params,
                    "responses": {"200": {"description": "found", "content": {"application/json": {"schema": body}}},
                                  **_refusals(errors)}}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def _query(name: str, schema: dict) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _document(service: str, description: str, paths: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": f"Goalpost {service}", "version": "1.0.0", "description": description},
            "paths": {**paths, "/openapi.json": _get("This document", [], {"type": "object"}, {})},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                           "schemas": {"Problem": PROBLEM}}}


CANDIDATE = {"type": "object", "properties": {"helper_id": {"type": "string"}, "score": {"type": "number"},
                                              "reasons": {"type": "array", "items": {"type": "string"}}}}


def classify_document() -> dict[str, Any]:
    body = {"type": "object", "required": ["text"], "properties": {
        "text": {"type": "string", "minLength": 1}, "tags": {"type": "array", "items": {"type": "string"}}}}
    answer = {"type": "object", "properties": {
        "intent": {"type": "string", "enum": list(INTENTS)}, "confidence": {"type": "number"},
        "scores": {"type": "object", "additionalProperties": {"type": "number"}},
        "topics": {"type": "array", "items": {"type": "string"}}, "model_version": {"type": "string"}}}
    classify = {"post": {"summary": "The intent and topics of a text (nothing is stored)", "security": [{"bearer": []}],
                         "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                         "responses": {"200": {"description": "classified", "content": {"application/json": {"schema": answer}}},
                                       **_refusals({"400": "body is not JSON", "422": "a field is invalid (named in `field`)"})}}}
    return _document("classify", "Intent and topics of a text, for tools.", {"/v1/classify": classify})


def match_document() -> dict[str, Any]:
    match = {"type": "object", "properties": {
        "post_id": {"type": "string"}, "author_id": {"type": "string"}, "intent": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}}, "candidates": {"type": "array", "items": CANDIDATE},
        "matched_at": {"type": "string", "format": "date-time"}, "model_version": {"type": "string"},
        "wave": {"type": "integer"}, "asked": {"type": "array", "items": {"type": "string"}}}}
    inbox = {"type": "object", "properties": {"user_id": {"type": "string"}, "open": {"type": "array", "items": {
        "type": "object", "properties": {"post_id": {"type": "string"}, "author_id": {"type": "string"},
                                         "intent": {"type": "string"}, "topics": {"type": "array", "items": {"type": "string"}},
                                         "wave": {"type": "integer"}, "asked_at": {"type": "string", "format": "date-time"},
                                         "score": {"type": "number"},
                                         "reasons": {"type": "array", "items": {"type": "string"}}}}}}}
    return _document("match", "The helpers a goal or request was routed to, and each helper's open asks.", {
        "/v1/posts/{post_id}/matches": _get("The latest wave of asks of a goal or request", [_path("post_id")], match,
                                            {"404": "no match (not a goal or request, or not ranked yet)",
                                             "410": "withdrawn from routing by flags"}),
        "/v1/helpers/{user_id}/inbox": _get("A helper's open asks, newest first (at most 100)", [_path("user_id")], inbox, {}),
    })


def ledger_document(windows: tuple[str, ...], recent_entries: int) -> dict[str, Any]:
    balance = {"type": "object", "properties": {"user_id": {"type": "string"}, "balance": {"type": "integer"}}}
    entries = {"type": "object", "properties": {"user_id": {"type": "string"}, "entries": {"type": "array", "items": {
        "$ref": "#/components/schemas/LedgerEntry"}}}}
    leaders = {"type": "object", "properties": {"window": {"type": "string"}, "as_of": {"type": "string"},
                                                "leaders": {"type": "array", "items": {"type": "object"}}}}
    doc = _document("ledger", "Social currency: balances, each user's recent journal entries, leaderboards.", {
        "/v1/users/{user_id}/balance": _get("A user's balance (0 for a user with no entries)", [_path("user_id")], balance, {}),
        "/v1/users/{user_id}/entries": _get(
            "A user's most recent journal entries, newest first",
            [_path("user_id"), _query("limit", {"type": "integer", "minimum": 1, "maximum": recent_entries, "default": 20})],
            entries, {"422": "a query parameter is invalid (named in `field`)"}),
        "/v1/leaderboard": _get(
            "The leaders of a window (with GOALPOST_PUBLIC_LEADERBOARD=true, no key is needed)",
            [_query("window", {"type": "string", "enum": list(windows), "default": "all"}),
             _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10})],
            leaders, {"422": "a query parameter is invalid (named in `field`)"}),
    })
    doc["components"]["schemas"]["LedgerEntry"] = {"type": "object", "properties": {
        "entry_id": {"type": "string"}, "user_id": {"type": "string"}, "delta": {"type": "integer"},
        "reason": {"type": "string"}, "source_event_id": {"type": "string"}, "created_at": {"type": "string"}}}
    return doc
