"""Operational endpoints: health, readiness, JWKS, OpenAPI, metrics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.keys import RUNTIME
from gateway.api.responses import json_response
from gateway.audit.watch import ChainWatch
from gateway.delivery.breaker import State
from gateway.runtime import Runtime

routes = web.RouteTableDef()
CHAIN_WATCH = web.AppKey("chain_watch", ChainWatch)
OPENAPI_PATH = Path(__file__).with_name("openapi.json")


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. Says nothing about the store (that is readiness)."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    checks = {
        "store": await runtime.store.ping(),
        "configuration": bool(runtime.config.departments),
    }
    ready = all(checks.values())
    return json_response(
        {"status": "ready" if ready else "not-ready", "checks": checks},
        status=200 if ready else 503,
    )


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    return json_response(
        runtime.context.keys.jwks(runtime.clock.now()),
        headers={"Cache-Control": "public, max-age=300"},
    )


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=OPENAPI_PATH.read_bytes(), content_type="application/json")


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    await refresh_gauges(request.app)
    body = generate_latest(runtime.metrics.registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def refresh_gauges(app: web.Application) -> None:
    """Gauges read from the store at scrape time, so they are right with several instances."""
    runtime = app[RUNTIME]
    now = runtime.clock.now()
    metrics = runtime.metrics
    up = await runtime.store.ping()
    metrics.store_up.set(1 if up else 0)
    if not up:
        return  # the gauges below come from the store: they keep their last values
    await app[CHAIN_WATCH].check(runtime.store, metrics)
    if runtime.cases is not None:
        flags = [view.flag for view in await runtime.cases.open_views(limit=10_000)]
        for flag in ("near", "overdue"):
            metrics.cases_by_deadline.labels(flag).set(flags.count(flag))
    stats = await runtime.store.stats(now)
    for recipient in runtime.config.departments:
        metrics.breaker_open.labels(recipient).set(_breaker_open(runtime, recipient, now))
        metrics.pending.labels(recipient).set(stats.pending_by_recipient.get(recipient, 0))
        oldest = stats.oldest_pending_by_recipient.get(recipient)
        age = (now - oldest).total_seconds() if oldest else 0.0
        metrics.oldest_pending.labels(recipient).set(max(age, 0.0))


def _breaker_open(runtime: Runtime, recipient: str, now: datetime) -> int:
    """1 while this instance's breaker for the recipient is open or half-open."""
    if runtime.dispatcher is None:
        return 0
    state = runtime.dispatcher.breakers.states(now).get(recipient, State.CLOSED)
    return 0 if state is State.CLOSED else 1
