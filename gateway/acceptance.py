"""Accepting a message: the pipeline behind ``POST /v1/messages``.

Order matters. Cheap, unauthenticated checks first (size, strict parse, algorithm allow-list),
then the origin signature, so nothing below learns anything from an unauthenticated caller;
then what the sender may do, deduplication (before the clock rule: a resend of a stored
message gets its original receipt however late it comes), the time, the document itself and
routing; and only then one store transaction. Every refusal raises a ``GatewayError`` with
its problem slug; nothing is stored before all checks pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.audit.chain import AuditEvent
from gateway.cases.agreement import check_case_id
from gateway.clock import Clock
from gateway.configuration.model import Config
from gateway.messages import SignedMessage, countersign, make_receipt
from gateway.problem_types import (
    CLOCK_SKEW,
    DEPARTMENT_DISABLED,
    ID_REUSED,
    SCHEMA_MISMATCH,
    TYPE_NOT_ALLOWED,
    UNKNOWN_TYPE,
)
from gateway.problems import (
    ConflictError,
    DocumentError,
    ForbiddenError,
    RoutingError,
    Violation,
)
from gateway.routing import Router
from gateway.storage.base import AcceptRequest, MessageRecord, Store
from gateway.trust import KeyRecord, KeyRegistry, SigningKey
from gateway.validation import SchemaRegistry


@dataclass(frozen=True, slots=True)
class Accepted:
    record: MessageRecord
    created: bool
    recipients: tuple[tuple[str, str], ...]  # (department, mode); empty for a duplicate
    # the document (the event's ``data``) as acceptance parsed it, for observers on the same
    # request (the case layer) so they need not parse the stored body again
    document: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AcceptanceContext:
    """What acceptance reads. Never changed: an administrator's change makes a new one."""

    config: Config
    router: Router
    keys: KeyRegistry
    schemas: SchemaRegistry
    gateway_key: SigningKey


class CurrentContext:
    """The acceptance context in force. An administrator's change swaps it whole, so the
    next message sees the change without a restart and without a lock on the request path:
    a request reads ``context`` once and uses that snapshot throughout.

    It is also the key resolver of department tokens, so they see a revoked key at once.
    """

    def __init__(self, context: AcceptanceContext) -> None:
        self._context = context

    @property
    def context(self) -> AcceptanceContext:
        return self._context

    @property
    def config(self) -> Config:
        return self._context.config

    def swap(self, context: AcceptanceContext) -> None:
        self._context = context

    def resolve(self, kid: str, at: datetime) -> KeyRecord:
        """``KeyResolver``: the record of ``kid`` if usable at ``at`` (see ``KeyRegistry``)."""
        return self._context.keys.resolve(kid, at)


class Acceptor:
    """The checks and the store transaction of one message (see the module docstring).
    Callers go through ``gateway.intake.Intake``, which adds wake-up, metrics and the case
    layer around it."""

    def __init__(self, current: CurrentContext, store: Store, clock: Clock) -> None:
        self._current = current
        self._store = store
        self._clock = clock

    async def accept(self, body: bytes, *, hosted: bool = False) -> Accepted:
        """``Accepted`` (``created`` False for a repeat of the same message), or a
        ``GatewayError`` naming the first check that failed; nothing is stored then.
        ``hosted``: the gateway's own case service, whose event time is the case's time of
        record (a function of the case's state), not a reading of a sender's clock."""
        ctx = self._current.context
        now = self._clock.now()
        message = SignedMessage.parse(
            body, max_bytes=ctx.config.gateway.max_message_bytes, rules=ctx.config.events
        )
        sender = message.verify_origin(ctx.keys, now)
        event = message.event
        self._check_sender(ctx, sender, event.type)
        # A duplicate before the clock rule: a sender whose answer was lost in an outage longer
        # than the skew window resends the same signed bytes and must get its receipt, for as
        # long as the message is stored, not "refused" for a message that was delivered.
        existing = await self._store.find_message(event.source, event.id)
        if existing is not None:
            return self._duplicate(existing, message.payload_sha256)
        if not hosted:
            self._check_time(ctx, event.time, now)
        self._check_document(ctx, event.type, event.dataschema, event.data)
        check_case_id(event.subject, event.data)
        decision = ctx.router.decide(_routable_view(event))
        if not decision.recipients:
            raise RoutingError(
                f"no route delivers {event.type} from {sender} to any department that may "
                "receive it",
                extra={"routing": decision.explain()},
            )
        recipients = tuple(
            (dept, ctx.config.departments[dept].delivery.mode) for dept in decision.recipients
        )
        digest = ctx.config.crypto.digest

        def build(seq: int) -> tuple[bytes, bytes]:
            signed, signature = countersign(
                message, ctx.gateway_key, ctx.config.gateway.id, now, seq, list(decision.recipients)
            )
            return signed, make_receipt(message, signature, ctx.config.crypto.digest)

        outcome = await self._store.accept(
            AcceptRequest(
                source=event.source,
                event_id=event.id,
                type=event.type,
                subject=event.subject,
                payload_sha256=message.payload_sha256,
                accepted_at=now,
                recipients=recipients,
                build=build,
                audit=AuditEvent(
                    action="message.accepted",
                    actor=sender,
                    at=now,
                    target=f"{event.source}/{event.id}",
                    detail={
                        "type": event.type,
                        digest: message.payload_digest(digest),
                        "recipients": list(decision.recipients),
                        "routes": list(decision.matched),
                    },
                ),
            )
        )
        if not outcome.created:
            return self._duplicate(outcome.record, message.payload_sha256)
        return Accepted(outcome.record, True, recipients, event.data)

    @staticmethod
    def _duplicate(existing: MessageRecord, sha256: str) -> Accepted:
        if existing.payload_sha256 != sha256:
            raise ConflictError(
                f"event id {existing.event_id!r} from {existing.source} was already accepted "
                "with a different payload; a new document needs a new id",
                problem=ID_REUSED,
            )
        return Accepted(existing, False, ())

    @staticmethod
    def _check_sender(ctx: AcceptanceContext, sender: str, doc_type: str) -> None:
        department = ctx.config.departments.get(sender)
        if department is None or not department.enabled:
            raise ForbiddenError(f"department {sender} is not enabled", problem=DEPARTMENT_DISABLED)
        if doc_type not in department.sends:
            raise ForbiddenError(
                f"department {sender} may not send {doc_type}", problem=TYPE_NOT_ALLOWED
            )

    @staticmethod
    def _check_time(ctx: AcceptanceContext, when: Any, now: Any) -> None:
        skew = ctx.config.gateway.clock_skew
        if abs(when - now) > skew:
            raise DocumentError(
                f"event time is more than {int(skew.total_seconds())} s from the gateway's "
                "clock; check the sender's clock",
                problem=CLOCK_SKEW,
                extra={"errors": [{"pointer": "/time", "detail": "outside the allowed skew"}]},
            )

    @staticmethod
    def _check_document(
        ctx: AcceptanceContext, doc_type: str, dataschema: str | None, data: Any
    ) -> None:
        if doc_type not in ctx.schemas.types():
            raise DocumentError(f"unknown document type {doc_type}", problem=UNKNOWN_TYPE)
        expected = ctx.schemas.schema_id(doc_type)
        if dataschema is not None and dataschema != expected:
            raise DocumentError(
                f"dataschema must be {expected} for {doc_type}",
                problem=SCHEMA_MISMATCH,
                extra={"errors": [{"pointer": "/dataschema", "detail": f"expected {expected}"}]},
            )
        try:
            ctx.schemas.check(doc_type, data)
        except DocumentError as exc:
            # Pointers into the event, not into the document: the sender sees the whole event.
            exc.violations = [Violation("/data" + v.pointer, v.message) for v in exc.violations]
            exc.extra.setdefault("document_type", doc_type)
            raise


def _routable_view(event: Any) -> dict[str, Any]:
    """The event as route conditions see it: attributes and ``data``."""
    return {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "data": event.data,
    }
