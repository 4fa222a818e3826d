"""Pull delivery: ``GET /v1/inbox``, ``POST /v1/inbox/ack`` and the SSE stream.

Messages are embedded in the JSON answer as the exact countersigned bytes (``orjson.Fragment``)
so a recipient verifies what the gateway stored, never a re-serialisation.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import web

from gateway.api.appkeys import CLOCK, METRICS, NOTIFIER, STORE
from gateway.api.auth import department
from gateway.api.openapi import DEPARTMENT_AUTH, answers
from gateway.api.params import query_number, whole_number
from gateway.api.responses import json_response
from gateway.audit.chain import AuditEvent
from gateway.problem_types import INVALID_ACK
from gateway.problems import MessageError, Violation

routes = web.RouteTableDef()
MAX_PAGE = 500
HEARTBEAT_SECONDS = 15.0


@routes.get("/v1/inbox")
@answers(DEPARTMENT_AUTH)
async def inbox(request: web.Request) -> web.Response:
    recipient = await department(request)
    after = query_number(request, "after", 0)
    limit = query_number(request, "limit", 100, maximum=MAX_PAGE) or 100
    records = await request.app[STORE].inbox(recipient, after, limit)
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
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
    ):
        raise MessageError(
            f'send {{"sequences": [...]}} with 1 to {MAX_PAGE} positive sequence numbers',
            problem=INVALID_ACK,
            violations=[Violation("/sequences", "must be a non-empty list of positive integers")],
        )
    return values


@routes.get("/v1/inbox/stream")
@answers(DEPARTMENT_AUTH)
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events; resume with ``Last-Event-ID`` (the last sequence received)."""
    store, notifier = request.app[STORE], request.app[NOTIFIER]
    recipient = await department(request)
    header = request.headers.get("Last-Event-ID")
    if header is not None:
        after = whole_number(header, "Last-Event-ID", "header")
    else:
        after = query_number(request, "after", 0)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    wake = notifier.subscribe(recipient)
    try:
        await response.write(b"retry: 2000\n\n")
        while not notifier.closing:
            wake.clear()
            records = await store.inbox(recipient, after, MAX_PAGE)
            for record in records:
                await response.write(
                    b"id: %d\nevent: message\ndata: %s\n\n" % (record.seq, record.body)
                )
                after = record.seq
            if len(records) == MAX_PAGE:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), HEARTBEAT_SECONDS)
                continue
            await response.write(b": keep-alive\n\n")
    except ConnectionResetError:
        pass  # the recipient went away; it resumes with Last-Event-ID
    finally:
        notifier.unsubscribe(recipient, wake)
    return response
