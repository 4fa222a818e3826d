"""The storage interface every backend implements, and the records it returns.

Why one transaction per acceptance: DESIGN section 6 promises a 202 only once the message,
its deliveries and its audit entry are durable together. ``accept`` therefore takes a
``build`` callback that receives the sequence number allocated inside the transaction and
returns the countersigned body and the signed receipt, so the sequence number in the
gateway's signature is the one stored.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gateway.audit.chain import AuditEvent


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # push: waiting for an attempt; pull: waiting in the inbox
    DELIVERED = "delivered"  # push: 2xx received; pull: acknowledged
    DEAD = "dead"  # retries exhausted or endpoint gone (410); replayable
    DISCARDED = "discarded"  # an administrator gave up on a dead letter


@dataclass(frozen=True, slots=True)
class MessageRecord:
    seq: int
    source: str
    event_id: str
    type: str
    subject: str | None
    payload_sha256: str
    accepted_at: datetime
    body: bytes  # the countersigned JWS (General JSON), exactly as delivered
    receipt: bytes  # the signed receipt returned to the sender


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    seq: int  # the message's sequence number
    recipient: str
    mode: str  # "push" or "pull"
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    receipt: bytes | None  # a delivery receipt the recipient returned, when it did
    accepted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str


@dataclass(slots=True)
class AcceptRequest:
    source: str
    event_id: str
    type: str
    subject: str | None
    payload_sha256: str
    accepted_at: datetime
    recipients: Sequence[tuple[str, str]]  # (department id, "push" | "pull")
    build: Callable[[int], tuple[bytes, bytes]]  # seq -> (countersigned body, receipt)
    audit: AuditEvent


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    record: MessageRecord
    created: bool  # False: (source, event_id) was already stored; record is the original


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    delivery: DeliveryRecord
    message: MessageRecord


@dataclass(slots=True)
class StoreStats:
    pending_by_recipient: dict[str, int] = field(default_factory=dict)
    oldest_pending_by_recipient: dict[str, datetime] = field(default_factory=dict)
    dead: int = 0


class Store(Protocol):
    """What the gateway needs from a database. All times are aware UTC datetimes."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    # acceptance
    async def accept(self, request: AcceptRequest) -> AcceptOutcome: ...
    async def find_message(self, source: str, event_id: str) -> MessageRecord | None: ...
    async def get_message(self, seq: int) -> MessageRecord | None: ...
    async def deliveries_for(self, seq: int) -> list[DeliveryRecord]: ...

    # push delivery
    async def claim_due(
        self, now: datetime, limit: int, owner: str, lease_seconds: float
    ) -> list[ClaimedDelivery]: ...
    async def next_due(self) -> datetime | None: ...
    async def mark_delivered(
        self, seq: int, recipient: str, at: datetime, receipt: bytes | None, audit: AuditEvent
    ) -> None: ...
    async def mark_retry(
        self, seq: int, recipient: str, attempts: int, next_at: datetime, error: str
    ) -> None: ...
    async def mark_dead(
        self, seq: int, recipient: str, attempts: int, error: str, audit: AuditEvent
    ) -> None: ...

    # dead letters
    async def list_dead(self, recipient: str | None, limit: int) -> list[DeliveryRecord]: ...
    async def replay(self, seq: int, recipient: str, now: datetime, audit: AuditEvent) -> bool: ...
    async def discard(self, seq: int, recipient: str, audit: AuditEvent) -> bool: ...

    # pull delivery
    async def inbox(self, recipient: str, after_seq: int, limit: int) -> list[MessageRecord]: ...
    async def ack(
        self, recipient: str, seqs: Sequence[int], at: datetime, audit: AuditEvent
    ) -> int: ...

    # audit
    async def append_audit(self, event: AuditEvent) -> AuditRecord: ...
    async def audit_entries(self, after_seq: int, limit: int) -> list[AuditRecord]: ...
    async def audit_rows(self, after_seq: int, limit: int) -> list[tuple[int, bytes, str, str]]:
        """(seq, stored entry bytes, prev_hash, hash): what the chain is verified from."""
        ...

    # operations
    async def stats(self, now: datetime) -> StoreStats: ...
    async def purge_delivered_before(self, before: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case as stored: the columns the watch and the metrics query, and the state (JSON)
    that only the case layer reads. ``version`` guards every write (optimistic locking)."""

    case_id: str
    stage: str
    status: str  # "open" | "closed"
    opened_at: datetime
    deadline: datetime
    version: int
    state: bytes


def case_from_row(row: Sequence[Any], when: Callable[[Any], datetime]) -> CaseRecord:
    """A ``CaseRecord`` from ``case_id, stage, status, opened_at, deadline, version, state``;
    ``when`` turns the store's time column into an aware datetime."""
    return CaseRecord(
        case_id=row[0],
        stage=row[1],
        status=row[2],
        opened_at=when(row[3]),
        deadline=when(row[4]),
        version=row[5],
        state=bytes(row[6]),
    )


#: the columns ``case_from_row`` reads, in its order
CASE_SELECT = "SELECT case_id, stage, status, opened_at, deadline, version, state FROM cases"


class CaseStore(Protocol):
    """What the case layer needs from the database; both stores implement it."""

    async def get_case(self, case_id: str) -> CaseRecord | None: ...

    async def save_case(self, case: CaseRecord, audit: Sequence[AuditEvent]) -> bool:
        """Insert (``case.version == 1``) or update the row whose version is
        ``case.version - 1``, with ``audit`` in the same transaction; False when another
        writer got there first (the caller reloads and applies again)."""
        ...

    async def open_cases(self, limit: int) -> list[CaseRecord]: ...
    async def count_open_cases(self) -> dict[str, int]: ...

    async def messages_after(
        self, after_seq: int, since: datetime, limit: int
    ) -> list[MessageRecord]:
        """Messages with a higher sequence number accepted at or after ``since``, in
        sequence order: what the case layer's catch-up reads."""
        ...
