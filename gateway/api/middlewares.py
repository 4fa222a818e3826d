"""Middlewares: request ids, problem details for every error, request metrics, and a check
that path and query parameters are plain text.

Order (outermost first): request id, then metrics, then errors, then the parameter check, so
the metrics see the final status of a problem response, every log line of the request carries
its id, and a refused parameter is a problem like any other.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError

from gateway.api.appkeys import METRICS, TRANSPORT
from gateway.api.responses import problem_response
from gateway.configuration.loader import TEXT
from gateway.language import negotiate
from gateway.masking import holds_personal_data
from gateway.problem_types import (
    BODY_TOO_LARGE,
    CLIENT_CLOSED_REQUEST,
    HTTP_ERROR,
    INVALID_PARAMETER,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    REQUEST_TIMEOUT,
    UNDECODABLE_BODY,
    UNSUPPORTED_CONTENT_ENCODING,
    UNSUPPORTED_MEDIA_TYPE,
)
from gateway.problems import GatewayError, MessageError, Violation

log = structlog.get_logger("gateway.http")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Request ids are unique, not secret: a random prefix per process and a counter, so the
# request path makes no getrandom call per request (a syscall that, measured under load,
# cost the event loop a GIL hand-off per request: bench/results/profile.txt)
_PROCESS_PREFIX = uuid.uuid4().hex[:16]
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """``<16 random hex of this process>-<counter in hex>``: unique per process lifetime."""
    return f"{_PROCESS_PREFIX}-{next(_COUNTER):x}"


REQUEST_ID = web.RequestKey("request_id", str)  # set first, read by ``problems``
INSTANCE = "urn:zj-exchange:request:"

_HTTP_PROBLEMS = {
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: BODY_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}


@web.middleware
async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    usable = _REQUEST_ID.fullmatch(given) is not None and not holds_personal_data(given)
    rid = given if usable else new_request_id()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=rid)
    request[REQUEST_ID] = rid
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
    """Every error as an RFC 9457 problem. Its ``instance`` names the occurrence by the
    request id (the one in ``X-Request-Id`` and in every log line of the request), never by
    the request's path, which would echo a refused value back. A 405 says what is allowed
    (``Allow``, RFC 9110 section 15.5.6). Title and detail are in the language
    ``Accept-Language`` prefers (English or Chinese, ``gateway.language``)."""
    instance = INSTANCE + request.get(REQUEST_ID, "unknown")
    language = negotiate(request.headers.get("Accept-Language"))
    try:
        return await handler(request)
    except GatewayError as exc:
        return problem_response(exc, instance, language=language)
    except (RequestPayloadError, HttpProcessingError):
        # the body arrived but could not be decoded (a corrupt gzip stream, a bad chunk)
        error = MessageError(
            "the body could not be decoded (corrupt gzip data or chunked encoding)",
            UNDECODABLE_BODY,
        )
        return problem_response(error, instance, language=language)
    except ConnectionError:
        # The client closed the connection before its answer: a normal end, not a failure
        # (nginx's 499 "client closed request"; nobody receives this response).
        log.info("http.client_gone")
        gone = MessageError(
            "the client closed the connection before the answer", CLIENT_CLOSED_REQUEST
        )
        return problem_response(gone, instance, language=language)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = MessageError(_http_detail(exc), _HTTP_PROBLEMS.get(exc.status, HTTP_ERROR))
        error.status = exc.status  # aiohttp's, for the generic type too
        allowed = getattr(exc, "allowed_methods", None) if exc.status == 405 else None
        headers = {"Allow": ", ".join(sorted(allowed))} if allowed else None
        return problem_response(error, instance, headers, language)
    except Exception:
        log.exception("http.unhandled")
        internal = GatewayError("the gateway failed; the request id identifies it in the logs")
        return problem_response(internal, instance, language=language)


BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: content codings aiohttp decodes (RFC 9110 section 8.4.1); brotli is refused by its parser
CONTENT_CODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})


#: (method, route) whose handler reads the body itself as it arrives, within its own size
#: limit and the same body timeout (``gateway.api.attachments``): never buffered here
STREAMED_BODIES = frozenset({("POST", "/v1/attachments")})


@web.middleware
async def read_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read a request's body within the transport's body timeout, before the handler (which
    then reads the cached bytes): a client that dribbles its body is answered 408, not held
    for ever. Bodies are bounded by the app's ``client_max_size`` (413). A route in
    ``STREAMED_BODIES`` only has its content coding checked."""
    if request.method in BODY_METHODS and request.body_exists:
        check_coding(request)
        if (request.method, _route_name(request)) in STREAMED_BODIES:
            return await handler(request)
        timeout = request.app[TRANSPORT].body_timeout
        try:
            await asyncio.wait_for(request.read(), timeout)
        except TimeoutError:
            raise body_timeout(timeout) from None
    return await handler(request)


def check_coding(request: web.Request) -> None:
    """A ``MessageError`` (415) for a content coding aiohttp would hand on undecoded (RFC 9110
    section 8.4.1)."""
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding not in CONTENT_CODINGS:
        raise MessageError(
            "send the body uncompressed or gzip-compressed", UNSUPPORTED_CONTENT_ENCODING
        )


def body_timeout(seconds: float) -> MessageError:
    """The 408 for a body that did not arrive in time (RFC 9110 section 15.5.9)."""
    return MessageError(f"the body must arrive within {seconds:g} s", REQUEST_TIMEOUT)


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
    """No control characters (C0, C1, line and paragraph separators), no unpaired surrogates:
    the ``TEXT`` rule the OpenAPI description states for identifiers."""
    return text == "" or TEXT.fullmatch(text) is not None


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
