"""Pull delivery: ``GET /v1/inbox``, ``POST /v1/inbox/ack`` and the SSE stream.

Messages are embedded in the JSON answer as the exact countersigned bytes (``orjson.Fragment``)
so a recipient verifies what the gateway stored, never a re-serialisation.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import structlog
from aiohttp import web

from gateway.api.appkeys import CLOCK, METRICS, NOTIFIER, STORE, TRANSPORT
from gateway.api.auth import department
from gateway.api.openapi import DEPARTMENT_AUTH, answers
from gateway.api.params import MAX_SEQUENCE, query_number, whole_number
from gateway.api.responses import json_response
from gateway.audit.chain import AuditEvent
from gateway.problem_types import INVALID_ACK, TOO_MANY_STREAMS
from gateway.problems import MessageError, Violation
from gateway.storage.base import MessageRecord

log = structlog.get_logger("gateway.inbox")

routes = web.RouteTableDef()
MAX_PAGE = 500
HEARTBEAT_SECONDS = 15.0
LIVENESS_SECONDS = 0.5


@routes.get("/v1/inbox")
@answers(DEPARTMENT_AUTH)
async def inbox(request: web.Request) -> web.Response:
    recipient = await department(request)
    after = query_number(request, "after", 0)
    limit = query_number(request, "limit", 100, maximum=MAX_PAGE) or 100
    page_bytes = request.app[TRANSPORT].page_bytes
    records = await request.app[STORE].inbox(recipient, after, limit, page_bytes)
    items = [{"sequence": r.seq, "message": orjson.Fragment(r.body)} for r in records]
    cursor = records[-1].seq if records else after
    return json_response({"messages": items, "next": cursor})


@routes.post("/v1/inbox/ack")
@answers(DEPARTMENT_AUTH, INVALID_ACK)
async def ack(request: web.Request) -> web.Response:
    recipient = await department(request)
    sequences = _sequences(await request.read())
    now = request.app[CLOCK].now()
    count = await request.app[STORE].ack(
        recipient,
        sequences,
        now,
        AuditEvent(
            "delivery.acknowledged",
            recipient,
            now,
            recipient,
            {"sequences": sequences[:100], "count": len(sequences)},
        ),
    )
    metrics = request.app[METRICS]
    metrics.deliveries.labels(metrics.dept_label(recipient), "pull").inc(count)
    return json_response({"acknowledged": count})


def _sequences(body: bytes) -> list[int]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    values = doc.get("sequences") if isinstance(doc, dict) else None
    if (
        not isinstance(values, list)
        or not values
        or len(values) > MAX_PAGE
        or not all(_is_sequence(v) for v in values)
    ):
        raise MessageError(
            f'send {{"sequences": [...]}} with 1 to {MAX_PAGE} sequence numbers'
            f" (whole numbers from 1 to {MAX_SEQUENCE})",
            problem=INVALID_ACK,
            violations=[Violation("/sequences", "must be a non-empty list of sequence numbers")],
        )
    return values


def _is_sequence(value: object) -> bool:
    """A sequence number as the stores hold it: 1 to 2**63-1 (a JSON number beyond 64 bits
    was a 503 on PostgreSQL and a 200 on SQLite)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SEQUENCE


@routes.get("/v1/inbox/stream")
@answers(DEPARTMENT_AUTH, TOO_MANY_STREAMS)
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events; resume with ``Last-Event-ID`` (the last sequence received).

    What one stream may cost is bounded (issue 12): at most ``[http] streams_per_department``
    streams per department in this process (429 beyond), a page of at most ``page_bytes`` of
    messages held at a time and released as it is written, and each write given
    ``write_timeout`` seconds: a client that stops reading has its connection aborted (its
    buffers freed) and resumes with ``Last-Event-ID`` like any other. A client that goes
    away ends its stream normally: logged at info, never counted as an error."""
    store, notifier = request.app[STORE], request.app[NOTIFIER]
    limits = request.app[TRANSPORT]
    recipient = await department(request)
    after = _stream_start(request)
    if notifier.streams(recipient) >= limits.streams_per_department:
        raise MessageError(
            f"at most {limits.streams_per_department} streams per department are open at once;"
            " close one, or read GET /v1/inbox",
            problem=TOO_MANY_STREAMS,
        )
    wake = notifier.subscribe(recipient)  # counted from here: no await since the check
    response = web.StreamResponse(headers=_SSE_HEADERS)
    writer = _Writer(response, limits.write_timeout)
    reason = "shutdown"
    try:
        await response.prepare(request)
        await writer.write(b"retry: 2000\n\n")
        while not notifier.closing:
            wake.clear()
            records = await store.inbox(recipient, after, MAX_PAGE, limits.page_bytes)
            if records:  # a page, bounded in count and bytes: look for the next at once
                after = await _send_page(writer, records, after)
                continue
            if not await _woken(wake, request):
                await writer.write(b": keep-alive\n\n")
    except ConnectionError:
        reason = "client-gone"  # it resumes with Last-Event-ID
    except TimeoutError:
        reason = "write-timeout"
        if request.transport is not None:
            request.transport.abort()  # drop what it did not read; nothing more is written
    finally:
        notifier.unsubscribe(recipient, wake)
    request.app[METRICS].streams_ended.labels(reason).inc()
    log.info("stream.ended", reason=reason, recipient=recipient, seq=after)
    return response


_SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
}


def _stream_start(request: web.Request) -> int:
    header = request.headers.get("Last-Event-ID")
    if header is not None:
        return whole_number(header, "Last-Event-ID", "header")
    return query_number(request, "after", 0)


async def _send_page(writer: _Writer, records: list[MessageRecord], after: int) -> int:
    """Write a page, letting go of each message once written; the new cursor."""
    records.reverse()
    while records:
        record = records.pop()
        await writer.write(b"id: %d\nevent: message\ndata: %s\n\n" % (record.seq, record.body))
        after = record.seq
    return after


async def _woken(wake: asyncio.Event, request: web.Request) -> bool:
    """Wait for a wake-up up to ``HEARTBEAT_SECONDS``: True when woken, False when a
    heartbeat is due. An idle stream looks at its connection every ``LIVENESS_SECONDS``, so a
    client that went away frees its place under the cap at once, not at the next heartbeat
    (aiohttp does not cancel a handler whose client is gone)."""
    loop = asyncio.get_running_loop()
    heartbeat = loop.time() + HEARTBEAT_SECONDS
    while (left := heartbeat - loop.time()) > 0:
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client closed the stream")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), min(left, LIVENESS_SECONDS))
            return True
    return False


class _Writer:
    """Writes to a stream, each within ``seconds`` (``TimeoutError`` beyond)."""

    def __init__(self, response: web.StreamResponse, seconds: float) -> None:
        self._response = response
        self._seconds = seconds

    async def write(self, data: bytes) -> None:
        await asyncio.wait_for(self._response.write(data), self._seconds)
