"""Operational endpoints: health, readiness, JWKS, OpenAPI, metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.appkeys import CHAIN_WATCH, CLOCK, CURRENT, DISPATCHER, METRICS, STORE
from gateway.api.openapi import document, with_live_values
from gateway.api.responses import json_response
from gateway.delivery.breaker import State

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. Says nothing about the store (that is readiness)."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    checks = {
        "store": await request.app[STORE].ping(),
        "configuration": bool(request.app[CURRENT].config.departments),
    }
    ready = all(checks.values())
    return json_response(
        {"status": "ready" if ready else "not-ready", "checks": checks},
        status=200 if ready else 503,
    )


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    return json_response(
        request.app[CURRENT].context.keys.jwks(request.app[CLOCK].now()),
        headers={"Cache-Control": "public, max-age=300"},
    )


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The description of every operation, with the problem types each answers with."""
    context = request.app[CURRENT].context
    spec = document(request.app.router)
    return json_response(
        with_live_values(spec, context.schemas.types(), context.config.departments)
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    await refresh_gauges(request.app)
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def refresh_gauges(app: web.Application) -> None:
    """Gauges read at scrape time (from the store, so they are right with several instances):
    the store's reachability, the audit chain (what was written since the last scrape),
    breakers, and the backlog per recipient. Open cases by deadline flag are counted by the
    deadline watch (``CaseService.check_deadlines``), not here: a scrape reads no case."""
    now = app[CLOCK].now()
    store, metrics = app[STORE], app[METRICS]
    up = await store.ping()
    metrics.store_up.set(1 if up else 0)
    if not up:
        return  # the gauges below come from the store: they keep their last values
    await app[CHAIN_WATCH].check(store, metrics)
    stats = await store.stats(now)
    gone = await store.gone_endpoints()
    breakers = app[DISPATCHER].breakers.states(now) if DISPATCHER in app else {}
    for recipient in app[CURRENT].config.departments:
        open_ = breakers.get(recipient, State.CLOSED) is not State.CLOSED
        metrics.breaker_open.labels(recipient).set(1 if open_ else 0)
        metrics.pending.labels(recipient).set(stats.pending_by_recipient.get(recipient, 0))
        oldest = stats.oldest_pending_by_recipient.get(recipient)
        age = (now - oldest).total_seconds() if oldest else 0.0
        metrics.oldest_pending.labels(recipient).set(max(age, 0.0))
        metrics.endpoint_gone.labels(recipient).set(1 if recipient in gone else 0)
