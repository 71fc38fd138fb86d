"""The ledger's HTTP routes: balances, recent entries and leaderboards, read from the Redis views."""
from __future__ import annotations

from typing import Any

import orjson

from services.core.contracts import utc_now
from services.core.openapi import ledger_document
from services.core.runtime import Runtime, json_response, problem
from services.ledger.views import RECENT_ENTRIES, WINDOWS, current_window, view_key


def _limit(request: Any, default: int, maximum: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValueError(f"must be an integer from 1 to {maximum}")
    return int(raw)


def add_routes(rt: Runtime) -> None:
    """GET /v1/users/{id}/balance, /v1/users/{id}/entries, /v1/leaderboard and /openapi.json."""

    async def balance_route(view, request, user_id: str) -> Any:
        assert rt.redis is not None
        raw = await rt.redis.hget(view_key("balance"), user_id)
        return json_response(view, {"user_id": user_id, "balance": int(raw) if raw is not None else 0,
                                    "known": raw is not None})

    async def entries_route(view, request, user_id: str) -> Any:
        try:
            limit = _limit(request, 20, RECENT_ENTRIES)
        except ValueError as exc:
            return problem(view, 422, "Unprocessable Content", str(exc), field="limit")
        assert rt.redis is not None
        raws: list[bytes] = await rt.redis.zrevrange(view_key("entries", user_id), 0, limit - 1)  # type: ignore[assignment]
        return json_response(view, {"user_id": user_id, "entries": [orjson.loads(r) for r in raws]})

    async def leaderboard_route(view, request) -> Any:
        window = request.query.get("window", "all")
        if window not in WINDOWS:
            return problem(view, 422, "Unprocessable Content", f"must be one of {', '.join(WINDOWS)}",
                           field="window")
        try:
            limit = _limit(request, 10, 100)
        except ValueError as exc:
            return problem(view, 422, "Unprocessable Content", str(exc), field="limit")
        key = view_key("lb", "all") if window == "all" else view_key("lb", window, current_window(window))
        assert rt.redis is not None
        rows: list[tuple[bytes, float]] = await rt.redis.zrevrange(key, 0, limit - 1, withscores=True)  # type: ignore[assignment]
        return json_response(view, {"window": window, "as_of": utc_now(), "leaders": [
            {"rank": i + 1, "user_id": u.decode(), "points": int(p)} for i, (u, p) in enumerate(rows)]})

    rt.route("/v1/users/{user_id:.+}/balance", balance_route, scope="read")  # ids may hold "/" (ingest allows it)
    rt.route("/v1/users/{user_id:.+}/entries", entries_route, scope="read")
    rt.route("/v1/leaderboard", leaderboard_route, scope=None if rt.settings.public_leaderboard else "read")
    rt.serve_openapi(ledger_document(WINDOWS, RECENT_ENTRIES))
