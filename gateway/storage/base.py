"""The storage interface every backend implements, the records it returns, and what a
backend can do beyond the common contract (``Capabilities``).

Why one transaction per acceptance: DESIGN section 6 promises a 202 only once the message,
its deliveries and its audit entry are durable together. ``accept`` therefore takes a
``build`` callback that receives the sequence number allocated inside the transaction and
returns the countersigned body and the signed receipt, so the sequence number in the
gateway's signature is the one stored.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from gateway.audit.chain import AuditEvent

if TYPE_CHECKING:  # gateway.delivery imports this module: only the type comes back
    from gateway.delivery.wakeup import Wakeup

#: One stored audit entry as the verifier reads it: (seq, entry bytes, prev_hash, hash).
AuditRow = tuple[int, bytes, str, str]


#: the default bound on the bodies of one inbox page, bytes (``[http] page_bytes``)
INBOX_BYTES = 1_048_576


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


@dataclass(frozen=True, slots=True)
class GoneEndpoint:
    """A push endpoint disabled after HTTP 410 (DESIGN section 7), until an administrator
    enables its department."""

    at: datetime
    reason: str


@dataclass(slots=True)
class StoreStats:
    pending_by_recipient: dict[str, int] = field(default_factory=dict)
    oldest_pending_by_recipient: dict[str, datetime] = field(default_factory=dict)
    dead: int = 0


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


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store does beyond the common contract, declared by the driver so that callers
    ask this record, never the object (``getattr``/``hasattr``). Each is about several
    gateway instances sharing one database (DESIGN section 8); a single-process store (SQLite)
    has none, and its methods for them raise ``Unsupported``.

    Claims with leases, dead letters, the audit chain and the case tables are not listed:
    every store has them.
    """

    #: ``listen``: other instances' commits wake this one (PostgreSQL LISTEN/NOTIFY).
    listen: bool
    #: ``claim_token``: a department token's use is recorded for every instance to see.
    token_uses: bool
    #: ``admin_state`` and friends: the administration overlay is kept for every instance.
    shared_admin_state: bool


class Unsupported(NotImplementedError):
    """The store lacks the capability a method needs (see ``Store.capabilities``): a caller
    that checks the declared capability first never sees this."""

    def __init__(self, store: str, capability: str) -> None:
        super().__init__(f"{store} has no {capability} (Store.capabilities.{capability} is False)")
        self.capability = capability


class Store(Protocol):
    """What the gateway needs from a database. All times are aware UTC datetimes; a naive
    datetime is refused with ValueError. Database faults are ``StoreError``."""

    @property
    def capabilities(self) -> Capabilities: ...

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
        self, now: datetime, owner: str, lease_seconds: float, capacity: Mapping[str, int]
    ) -> list[ClaimedDelivery]:
        """Lease to ``owner`` for ``lease_seconds``, per recipient of ``capacity``, at most
        that many of its due push deliveries (oldest due first) whose lease is free or has
        run out. Recipients not in ``capacity`` are not looked at."""
        ...

    async def next_due(self, recipients: Collection[str]) -> datetime | None:
        """When the earliest pending push delivery of ``recipients`` falls due."""
        ...

    async def renew_claims(self, owner: str, until: datetime) -> int:
        """Extend every lease ``owner`` holds on a pending delivery to ``until``."""
        ...

    async def release_claims(self, owner: str) -> int:
        """Give up every lease ``owner`` holds (shutdown, and start under the same identity);
        the deliveries are due again as they were."""
        ...

    async def release_claim(self, seq: int, recipient: str, owner: str) -> None:
        """Give up one lease, the delivery untouched (it could not start after all)."""
        ...

    async def gone_endpoints(self) -> dict[str, GoneEndpoint]: ...
    async def mark_gone(
        self, recipient: str, at: datetime, reason: str, audit: AuditEvent
    ) -> None: ...
    async def clear_gone(self, recipient: str) -> bool: ...
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
    async def inbox(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int = INBOX_BYTES
    ) -> list[MessageRecord]:
        """A pulling recipient's pending messages after ``after_seq`` in sequence order: at
        most ``limit`` of them and at most ``max_bytes`` of bodies, so a page is bounded in
        memory whatever the messages weigh; a first message larger than the bound makes a
        page of its own, so a reader always advances."""
        ...

    async def ack(
        self, recipient: str, seqs: Sequence[int], at: datetime, audit: AuditEvent
    ) -> int: ...

    # audit
    async def append_audit(self, event: AuditEvent) -> AuditRecord: ...
    async def audit_entries(self, after_seq: int, limit: int) -> list[AuditRecord]: ...
    async def audit_rows(self, after_seq: int, limit: int) -> list[AuditRow]:
        """The stored bytes, for the verifier, which recomputes every link from them."""
        ...

    # operations
    async def stats(self, now: datetime) -> StoreStats:
        """Pending deliveries by recipient (with the oldest one's acceptance time) and dead
        letters, read from counts every state transition keeps: the same cost at a million
        pending as at a thousand."""
        ...

    async def purge_delivered_before(self, before: datetime) -> int: ...

    # cases
    async def get_case(self, case_id: str) -> CaseRecord | None: ...

    async def save_case(self, case: CaseRecord, audit: Sequence[AuditEvent]) -> bool:
        """Insert (``case.version == 1``) or update the row whose version is
        ``case.version - 1``, with ``audit`` in the same transaction; False when another
        writer got there first (the caller reloads and applies again)."""
        ...

    async def open_cases(self, limit: int) -> list[CaseRecord]: ...
    async def count_open_cases(self) -> dict[str, int]: ...

    async def closed_cases(self, opened_since: datetime, limit: int) -> list[CaseRecord]:
        """Closed cases opened at or after ``opened_since``, oldest first: the statistics."""
        ...

    async def messages_after(
        self, after_seq: int, since: datetime, limit: int
    ) -> list[MessageRecord]:
        """Messages with a higher sequence number accepted at or after ``since``, in
        sequence order (commit order on both stores): what the case layer's catch-up reads."""
        ...

    # at rest (gateway.encryption.rotation)
    async def reseal_messages(self, after_seq: int, limit: int) -> tuple[int | None, int]:
        """Seal again under the active at-rest key the bodies after ``after_seq`` that are
        plaintext or under an older key: (last seq looked at or None at the end, count)."""
        ...

    async def reseal_cases(self, after_id: str, limit: int) -> tuple[str | None, int]:
        """As ``reseal_messages`` for case states, in case id order."""
        ...

    async def sealed_under(self, batch: int = 500) -> dict[str | None, int]:
        """How many message bodies and case states name each at-rest key id (None: not
        sealed)."""
        ...

    # capability ``listen``
    async def listen(self, callback: Callable[[Wakeup], None]) -> None:
        """Call ``callback`` whenever another instance commits newly due deliveries, from
        the time this returns until ``close``. A hint only: pollers still poll."""
        ...

    # capability ``token_uses``
    async def claim_token(self, key: str, expires: datetime, now: datetime) -> bool:
        """Record a department token's use; False when any instance recorded it before (and
        it has not expired)."""
        ...

    # capability ``shared_admin_state``
    async def admin_state(self) -> tuple[int, bytes] | None:
        """The shared administration overlay and its version, if any change was saved."""
        ...

    async def admin_state_version(self) -> int: ...

    async def save_admin_state(self, body: bytes, version: int) -> bool:
        """Save ``body`` as ``version`` over ``version - 1``; False when another instance
        saved first."""
        ...
