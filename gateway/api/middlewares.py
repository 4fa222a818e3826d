"""Middlewares: request ids, problem details for every error, request metrics, and a check
that path and query parameters are plain text.

Order (outermost first): request id, then metrics, then errors, then the parameter check, so
the metrics see the final status of a problem response, every log line of the request carries
its id, and a refused parameter is a problem like any other.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api.appkeys import METRICS
from gateway.api.responses import problem_response
from gateway.language import negotiate
from gateway.problem_types import (
    BODY_TOO_LARGE,
    HTTP_ERROR,
    INVALID_PARAMETER,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNSUPPORTED_MEDIA_TYPE,
)
from gateway.problems import GatewayError, MessageError, Violation

log = structlog.get_logger("gateway.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

_HTTP_PROBLEMS = {
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: BODY_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}


@web.middleware
async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=rid)
    started = time.perf_counter()
    response = await handler(request)
    response.headers["X-Request-Id"] = rid
    log.info(
        "http.request",
        method=request.method,
        route=_route_name(request),
        status=response.status,
        ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return response


@web.middleware
async def metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    counters = request.app.get(METRICS)
    if counters is not None:
        counters.http_requests.labels(_route_name(request), f"{response.status // 100}xx").inc()
    return response


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as a problem, its title and detail in the language ``Accept-Language``
    prefers (English or Chinese, ``gateway.language``)."""
    language = negotiate(request.headers.get("Accept-Language"))
    try:
        return await handler(request)
    except GatewayError as exc:
        return problem_response(exc, request.path, language)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = MessageError(_http_detail(exc), _HTTP_PROBLEMS.get(exc.status, HTTP_ERROR))
        error.status = exc.status  # aiohttp's, for the generic type too
        return problem_response(error, request.path, language)
    except Exception:
        log.exception("http.unhandled")
        internal = GatewayError("the gateway failed; the request id identifies it in the logs")
        return problem_response(internal, request.path, language)


@web.middleware
async def plain_parameters(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse control characters and unpaired surrogates in path and query parameters.

    Why here and not in each handler: no identifier of this API (event ids, case ids,
    department ids, sequence numbers) holds them, and PostgreSQL refuses NUL in text, so one
    %00 in a URL would otherwise reach the database and come back as a 503.
    """
    places = [("path", k, v) for k, v in request.match_info.items()]
    places += [("query", k, v) for k, v in request.query.items()]
    for where, name, value in places:
        if not _plain(value) or not _plain(name):
            raise MessageError(
                f"{where} parameter {name if _plain(name) else '(name)'!r} holds control "
                "characters; identifiers are plain text",
                problem=INVALID_PARAMETER,
                violations=[Violation(f"/{where}/{name if _plain(name) else ''}", "not plain")],
            )
    return await handler(request)


def _plain(text: str) -> bool:
    return text.isprintable() and not any("\ud800" <= c <= "\udfff" for c in text)


def _http_detail(exc: web.HTTPException) -> str:
    if exc.status == 413:
        return "the body is larger than the gateway accepts"
    if exc.status == 404:
        return "no such resource"
    if exc.status == 405:
        return "this resource does not support that method"
    return exc.reason


def _route_name(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    canonical = getattr(resource, "canonical", None)
    return canonical if isinstance(canonical, str) else "unmatched"
