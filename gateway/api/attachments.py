"""``POST /v1/attachments`` (upload) and ``GET /v1/attachments/{digest}`` (download).

The upload is read from the request as it arrives (``request.content``), never with
``request.read()`` (the ``read_body`` middleware leaves it alone): aiohttp's body limit does
not apply and the service's own limit does (413 ``attachment-too-large``). Each read must
arrive within ``[http] body_timeout`` and the whole within ``GATEWAY_ATTACHMENT_BODY_SECONDS``,
else 408 ``request-timeout``, as for any other body (issue 12).
Downloads answer ``ETag`` (the digest: the bytes never change under it), ``If-None-Match``
and one byte range (RFC 9110 sections 8.8.3, 13.1.2, 14).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.appkeys import ATTACHMENTS, CLOCK, CURRENT, TRANSPORT
from gateway.api.auth import department
from gateway.api.middlewares import body_timeout
from gateway.api.openapi import DEPARTMENT_AUTH, answers
from gateway.api.responses import json_response
from gateway.attachments.links import verify_link
from gateway.problem_types import (
    ATTACHMENT_CONTENT_REFUSED,
    ATTACHMENT_NOT_FOUND,
    ATTACHMENT_SCANNER_UNAVAILABLE,
    ATTACHMENT_TOO_LARGE,
    ATTACHMENT_TYPE_MISMATCH,
    ATTACHMENT_TYPE_NOT_ALLOWED,
    RANGE_NOT_SATISFIABLE,
    REQUEST_TIMEOUT,
    UNSUPPORTED_CONTENT_ENCODING,
)
from gateway.problems import GatewayError, NotFoundError

routes = web.RouteTableDef()
UPLOAD_CHUNK = 64 * 1024
_DIGEST = re.compile(r"[0-9a-f]{64}")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@routes.post("/v1/attachments")
@answers(
    DEPARTMENT_AUTH,
    ATTACHMENT_TOO_LARGE,
    ATTACHMENT_TYPE_NOT_ALLOWED,
    ATTACHMENT_TYPE_MISMATCH,
    ATTACHMENT_CONTENT_REFUSED,
    ATTACHMENT_SCANNER_UNAVAILABLE,
    REQUEST_TIMEOUT,
    UNSUPPORTED_CONTENT_ENCODING,
)
async def upload(request: web.Request) -> web.Response:
    """201 ``{digest, media_type, size}`` for new bytes, 200 for bytes already stored."""
    service = request.app[ATTACHMENTS]
    caller = await department(request)
    length = request.content_length
    if length is not None and length > service.settings.max_bytes:
        error = service.too_large()
        service.metrics.attachment_refusals.labels(error.rule).inc()
        raise error
    idle = request.app[TRANSPORT].body_timeout
    chunks = _timed(request, idle, service.settings.body_seconds)
    attachment, created = await service.upload(chunks, request.headers.get("Content-Type"), caller)
    return json_response(
        attachment.as_json(),
        status=201 if created else 200,
        headers={"Location": f"/v1/attachments/{attachment.digest}"},
    )


async def _timed(request: web.Request, idle: float, whole: float) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; a 408 when one takes longer than ``idle`` seconds or
    the whole longer than ``whole`` (a client that dribbles, RFC 9110 section 15.5.9)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + whole
    while True:
        remaining = deadline - loop.time()
        try:
            read = request.content.read(UPLOAD_CHUNK)
            chunk = await asyncio.wait_for(read, max(min(idle, remaining), 0.0))
        except TimeoutError:
            raise body_timeout(whole if remaining <= idle else idle) from None
        if not chunk:
            return
        yield chunk


@routes.get("/v1/attachments/{digest}")
@answers(DEPARTMENT_AUTH, ATTACHMENT_NOT_FOUND, RANGE_NOT_SATISFIABLE)  # a link: token-*
async def download(request: web.Request) -> web.StreamResponse:
    """The bytes, to an uploader or a recipient of a message referencing them; 404 to
    anyone else, as for bytes that do not exist."""
    service = request.app[ATTACHMENTS]
    digest = request.match_info["digest"]
    caller = await _reader(request, digest)
    if not _DIGEST.fullmatch(digest):
        raise NotFoundError("an attachment's digest is 64 lowercase hex", ATTACHMENT_NOT_FOUND)
    attachment = await service.readable(digest, caller)
    etag = f'"{digest}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=0",
        "Content-Type": attachment.media_type,
    }
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    start, end = _range(request, attachment.size)
    status = 200
    if (start, end) != (0, attachment.size):
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{attachment.size}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start
    await response.prepare(request)
    async for chunk in service.read(attachment, start, end):
        await response.write(chunk)
    await response.write_eof()
    return response


async def _reader(request: web.Request, digest: str) -> str:
    """Who reads: the recipient a signed push link names (``?link=``), else the caller's
    department token."""
    token = request.query.get("link")
    if token is None:
        return await department(request)
    key = request.app[CURRENT].context.gateway_key
    return verify_link(token, key, digest, request.app[CLOCK].now())


def _range(request: web.Request, size: int) -> tuple[int, int]:
    """[start, end) of the one range asked for (RFC 9110 section 14.1.2), or the whole.
    A range that cannot be served is a 416; ``If-Range`` naming another tag: the whole."""
    header = request.headers.get("Range")
    if header is None or request.headers.get("If-Range", f'"{request.match_info["digest"]}"') != (
        f'"{request.match_info["digest"]}"'
    ):
        return 0, size
    match = _RANGE.fullmatch(header.strip())
    first, last = (match.group(1), match.group(2)) if match else ("", "")
    if match is None or (not first and not last):
        raise _unsatisfiable(size)
    if not first:  # the last N bytes
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> GatewayError:
    error = GatewayError(
        f"ask for one range of bytes within 0-{size - 1}, as bytes=first-last",
        RANGE_NOT_SATISFIABLE,
    )
    error.extra["size"] = size
    return error
