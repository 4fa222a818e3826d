"""Operational endpoints: health, readiness, JWKS, OpenAPI, metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.appkeys import CLOCK, CURRENT, METRICS, STORE
from gateway.api.openapi import document
from gateway.api.responses import json_response

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
    return json_response(document(request.app.router))


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    await refresh_gauges(request.app)
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def refresh_gauges(app: web.Application) -> None:
    """Gauges read from the store at scrape time, so they are right with several instances."""
    now = app[CLOCK].now()
    stats = await app[STORE].stats(now)
    gone = await app[STORE].gone_endpoints()
    metrics = app[METRICS]
    for recipient in app[CURRENT].config.departments:
        metrics.pending.labels(recipient).set(stats.pending_by_recipient.get(recipient, 0))
        oldest = stats.oldest_pending_by_recipient.get(recipient)
        age = (now - oldest).total_seconds() if oldest else 0.0
        metrics.oldest_pending.labels(recipient).set(max(age, 0.0))
        metrics.endpoint_gone.labels(recipient).set(1 if recipient in gone else 0)
