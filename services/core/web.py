"""The HTTP side of a service: faust's web server without its Kafka machinery, routes with
API-key scopes, timing and status metrics, problem+json errors, health and metrics routes."""
from __future__ import annotations

import os
import re
import time
from typing import Any, Awaitable, Callable, Optional

import faust
import prometheus_client
from aiohttp.web import TCPSite
from faust.app.base import BootStrategy
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from redis.exceptions import RedisError

from services.core import metrics
from services.core.auth import ApiKey, Refusal, authorise
from services.core.contracts import dumps
from services.core.logs import log
from services.core.workers import METRICS_DIR_ENV

API_KEY = "goalpost.api_key"  # the request's key (an ApiKey) on routes with a scope


class _WebOnlyBoot(BootStrategy):
    enable_kafka = False


class _ReusePortWeb(AiohttpWeb):
    """faust's aiohttp server, bound with SO_REUSEPORT: the workers of one service share its port."""

    def _new_transport_tcp(self) -> TCPSite:
        return TCPSite(self._runner, self.app.conf.web_bind, self.app.conf.web_port,
                       ssl_context=self.app.conf.web_ssl_context, reuse_port=True)


class WebOnlyApp(faust.App):
    """faust for the lifecycle and the web server; Kafka is read by our own consumers."""
    BootStrategy = _WebOnlyBoot
    shares_port = False

    def _new_web(self) -> Any:
        return _ReusePortWeb(self) if self.shares_port else super()._new_web()


def add_route(app: faust.App, service: str, api_keys: Callable[[], dict[str, ApiKey]], path: str,
              handler: Callable[..., Awaitable[Any]], methods: tuple[str, ...] = ("GET",),
              scope: Optional[str] = None) -> None:
    """Adds an HTTP route; handler(view, request, **match_info) returns a faust/aiohttp Response.
    With a scope, only a request whose API key holds it reaches the handler (401 / 403), and
    the handler finds the key in request[API_KEY]. Requests are counted and timed by route
    template and status."""
    label = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)  # metrics name the template, not its regex
    seconds = metrics.HTTP_SECONDS.labels(service, label)
    by_status: dict[int, Any] = {}  # labels() per request is a few % of a single post's time

    async def timed(view: faust.web.View, request: Any, **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            verdict = authorise(request.headers.get("Authorization"), api_keys(), scope) if scope else None
            if isinstance(verdict, Refusal):
                response = refuse(view, verdict)
            else:
                request[API_KEY] = verdict
                response = await handler(view, request, **kw)
        except RedisError as exc:  # a dependency is away: the client may retry
            log.warning("redis error in %s: %r", path, exc)
            response = problem(view, 503, "Service Unavailable", "a dependency is unavailable; retry later",
                               headers={"Retry-After": "1"})
        except Exception:
            log.exception("unhandled error in %s", path)
            response = problem(view, 500, "Internal Server Error", "unexpected error; it was logged")
        counter = by_status.get(response.status)
        if counter is None:
            counter = by_status[response.status] = metrics.HTTP_REQUESTS.labels(service, label, str(response.status))
        counter.inc()
        seconds.observe(time.perf_counter() - started)
        return response

    attrs = {m.lower(): timed for m in methods}
    view = type(f"View_{abs(hash(path))}", (faust.web.View,), attrs)
    app.page(path)(view)


def add_common_routes(route: Callable[..., None], service: str,
                      readiness_problems: Callable[[], Awaitable[list[str]]]) -> None:
    """/healthz, /readyz (503 with the problems while not ready) and /metrics."""
    async def healthz(view: Any, request: Any) -> Any:
        return view.json({"status": "ok", "service": service})

    async def readyz(view: Any, request: Any) -> Any:
        problems = await readiness_problems()
        return view.json({"ready": not problems, "service": service, "problems": problems},
                         status=200 if not problems else 503)

    service_memory = metrics.ServiceMemory(service)
    if not os.environ.get(METRICS_DIR_ENV) and not metrics.ServiceMemory.registered:
        metrics.ServiceMemory.registered = True  # one per process (tests import several services)
        prometheus_client.REGISTRY.register(service_memory)

    async def metrics_route(view: Any, request: Any) -> Any:
        return view.bytes(generate_latest(_metrics_registry(service_memory)),
                          content_type=CONTENT_TYPE_LATEST.split(";")[0])

    route("/healthz", healthz)
    route("/readyz", readyz)
    route("/metrics", metrics_route)


def _metrics_registry(service_memory: metrics.ServiceMemory) -> Any:
    """This process's metrics, or, when the service runs several workers, all of theirs (each
    worker writes its values to the shared directory; a scrape may reach any of them)."""
    if not os.environ.get(METRICS_DIR_ENV):
        return prometheus_client.REGISTRY  # service_memory is registered in it once, at start
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(service_memory)
    return registry


def problem(view: Any, status: int, title: str, detail: str, field: Optional[str] = None,
            headers: Optional[dict] = None, **extra: Any) -> Any:
    """An RFC 9457 problem+json response; `field` names the offending input field."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return view.bytes(dumps(body), status=status, content_type="application/problem+json",
                      headers=headers)


def refuse(view: Any, refusal: Refusal) -> Any:
    """The 401 or 403 problem response of a request without a key holding the route's scope."""
    if refusal.status == 401:
        return problem(view, 401, "Unauthorized", refusal.detail, headers={"WWW-Authenticate": 'Bearer realm="goalpost"'})
    return problem(view, 403, "Forbidden", refusal.detail)


def json_response(view: Any, body: Any, status: int = 200) -> Any:
    return view.bytes(dumps(body), status=status, content_type="application/json")
