"""``POST /v1/messages`` (submit) and ``GET /v1/messages/{id}`` (status)."""

from __future__ import annotations

import structlog
from aiohttp import web

from gateway.api.appkeys import CURRENT, INTAKE, STORE
from gateway.api.auth import department
from gateway.api.openapi import ACCEPTANCE, DEPARTMENT_AUTH, answers
from gateway.api.responses import json_response
from gateway.clock import utc_iso
from gateway.problem_types import BODY_TOO_LARGE, MESSAGE_NOT_FOUND, UNSUPPORTED_MEDIA_TYPE
from gateway.problems import MessageError, NotFoundError

ACCEPTED_TYPES = ("application/jose+json", "application/json")

routes = web.RouteTableDef()


@routes.post("/v1/messages")
@answers(ACCEPTANCE)
async def submit(request: web.Request) -> web.Response:
    """202 with the gateway's signed receipt once the message is stored (``Intake``)."""
    limit = request.app[CURRENT].config.gateway.max_message_bytes
    accepted = await request.app[INTAKE].receive(lambda: _read_message(request, limit))
    record = accepted.record
    # the request's log line names the message and its case (neither is personal data)
    structlog.contextvars.bind_contextvars(
        message_id=f"{record.source}/{record.event_id}", case_id=record.subject
    )
    headers = {"Location": f"/v1/messages/{record.event_id}?source={record.source}"}
    if not accepted.created:
        headers["Idempotent-Replayed"] = "true"
    return web.Response(
        body=record.receipt, status=202, content_type="application/json", headers=headers
    )


async def _read_message(request: web.Request, limit: int) -> bytes:
    """The request body, or a refusal before reading it: wrong media type, too large."""
    if request.content_type not in ACCEPTED_TYPES:
        raise MessageError(
            "send the message as application/jose+json (JWS General JSON Serialization)",
            problem=UNSUPPORTED_MEDIA_TYPE,
        )
    if request.content_length is not None and request.content_length > limit:
        raise MessageError(
            f"the message is larger than {limit} bytes",
            problem=BODY_TOO_LARGE,
        )
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise MessageError(
            f"the message is larger than {limit} bytes",
            problem=BODY_TOO_LARGE,
        ) from None


@routes.get("/v1/messages/{id}")
@answers(DEPARTMENT_AUTH, MESSAGE_NOT_FOUND)
async def status(request: web.Request) -> web.Response:
    store = request.app[STORE]
    caller = await department(request)
    source = request.query.get("source", caller)
    record = await store.find_message(source, request.match_info["id"])
    not_found = NotFoundError(
        "no message with this id from this source that you sent or receive",
        problem=MESSAGE_NOT_FOUND,
    )
    if record is None:
        raise not_found
    deliveries = await store.deliveries_for(record.seq)
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
