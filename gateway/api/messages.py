"""``POST /v1/messages`` (submit) and ``GET /v1/messages/{id}`` (status)."""

from __future__ import annotations

import time
from typing import Any

import structlog
from aiohttp import web

from gateway.api.auth import department
from gateway.api.keys import RUNTIME
from gateway.api.responses import json_response
from gateway.clock import utc_iso
from gateway.problems import (
    DocumentError,
    GatewayError,
    MessageError,
    NotFoundError,
    SignatureError,
)

ACCEPTED_TYPES = ("application/jose+json", "application/json")

routes = web.RouteTableDef()


@routes.post("/v1/messages")
async def submit(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    metrics = runtime.metrics
    started = time.perf_counter()
    metrics.messages_received.inc()
    try:
        if request.content_type not in ACCEPTED_TYPES:
            raise MessageError(
                "send the message as application/jose+json (JWS General JSON Serialization)",
                slug="unsupported-media-type",
                status=415,
                title="Unsupported media type",
            )
        body = await _read_body(request, runtime.config.gateway.max_message_bytes)
        accepted = await runtime.acceptor.accept(body)
    except GatewayError as exc:
        _count_rejection(runtime, exc)
        raise
    record = accepted.record
    # the request's log line names the message and its case (neither is personal data)
    structlog.contextvars.bind_contextvars(
        message_id=f"{record.source}/{record.event_id}", case_id=record.subject
    )
    if accepted.created:
        runtime.committed(accepted)
        if runtime.cases is not None:
            await runtime.cases.observe(accepted)
    else:
        metrics.messages_duplicate.labels(metrics.dept_label(record.source)).inc()
    metrics.accept_latency.observe(time.perf_counter() - started)
    headers = {"Location": f"/v1/messages/{record.event_id}?source={record.source}"}
    if not accepted.created:
        headers["Idempotent-Replayed"] = "true"
    return web.Response(
        body=record.receipt, status=202, content_type="application/json", headers=headers
    )


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise MessageError(
            f"the message is larger than {limit} bytes",
            slug="body-too-large",
            status=413,
            title="Body too large",
        )
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise MessageError(
            f"the message is larger than {limit} bytes",
            slug="body-too-large",
            status=413,
            title="Body too large",
        ) from None


def _count_rejection(runtime: Any, exc: GatewayError) -> None:
    metrics = runtime.metrics
    metrics.messages_rejected.labels(exc.slug).inc()
    if isinstance(exc, SignatureError) or exc.slug in {
        "bad-signature",
        "unknown-key",
        "key-expired",
        "key-revoked",
        "algorithm-refused",
        "source-mismatch",
    }:
        metrics.signature_failures.labels(exc.slug).inc()
    if isinstance(exc, DocumentError) and exc.slug == "invalid-document":
        metrics.validation_failures.labels(metrics.type_label(exc.extra.get("document_type"))).inc()


@routes.get("/v1/messages/{id}")
async def status(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    caller = await department(request)
    source = request.query.get("source", caller)
    record = await runtime.store.find_message(source, request.match_info["id"])
    not_found = NotFoundError(
        "no message with this id from this source that you sent or receive",
        slug="message-not-found",
    )
    if record is None:
        raise not_found
    deliveries = await runtime.store.deliveries_for(record.seq)
    if caller != record.source:
        deliveries = [d for d in deliveries if d.recipient == caller]
        if not deliveries:
            raise not_found  # 404, not 403: existence is not disclosed to others
    return json_response(
        {
            "id": record.event_id,
            "source": record.source,
            "type": record.type,
            "subject": record.subject,
            "sequence": record.seq,
            "payload_sha256": record.payload_sha256,
            "accepted_at": utc_iso(record.accepted_at),
            "deliveries": [
                {
                    "recipient": d.recipient,
                    "mode": d.mode,
                    "state": str(d.state),
                    "attempts": d.attempts,
                    "next_attempt_at": utc_iso(d.next_attempt_at) if d.next_attempt_at else None,
                    "delivered_at": utc_iso(d.delivered_at) if d.delivered_at else None,
                    "last_error": d.last_error,
                    # what the recipient answered on delivery (a signed receipt when it
                    # gives one), shown to the sender only
                    "delivery_receipt": (
                        d.receipt.decode("utf-8", "replace")
                        if d.receipt and caller == record.source
                        else None
                    ),
                }
                for d in deliveries
            ],
        }
    )
