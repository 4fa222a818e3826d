"""Rows to records, once for every dialect: the column lists the queries select, the
mappers that read them in that order, and the audit entry's codec.

Why the column lists live here and not in the SQL files: a list and the mapper reading it
must agree column for column, so they sit side by side; ``gateway.storage.sql`` fills them
into the queries (``{message_columns}``). A dialect differs only in how a time comes back
(``when``: integer microseconds from SQLite, TIMESTAMPTZ from PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

import orjson

from gateway.audit.chain import AuditEvent, entry_bytes, link
from gateway.encryption.protection import RecordProtection
from gateway.storage.base import (
    AuditRecord,
    AuditRow,
    CaseRecord,
    ClaimedDelivery,
    DeliveryRecord,
    DeliveryState,
    MessageRecord,
)

#: A row as a driver returns it: indexable, in the order the query selected.
Row = Sequence[Any]

MESSAGE_COLUMNS: Final = (
    "m.seq",
    "m.source",
    "m.event_id",
    "m.type",
    "m.subject",
    "m.payload_sha256",
    "m.accepted_at",
    "m.body",
    "m.receipt",
)
DELIVERY_COLUMNS: Final = (
    "d.seq",
    "d.recipient",
    "d.mode",
    "d.state",
    "d.attempts",
    "d.next_attempt_at",
    "d.last_error",
    "d.delivered_at",
    "d.receipt",
    "m.accepted_at",
)
CASE_COLUMNS: Final = (
    "case_id",
    "stage",
    "status",
    "opened_at",
    "deadline",
    "version",
    "state",
)

#: What the query files may name in braces: ``{message_columns}`` and so on.
FRAGMENTS: Final = {
    "message_columns": ", ".join(MESSAGE_COLUMNS),
    "delivery_columns": ", ".join(DELIVERY_COLUMNS),
    "case_columns": ", ".join(CASE_COLUMNS),
}


def aware(when: datetime) -> datetime:
    """``when`` itself, or ValueError if it is naive: guessing a zone is how retry schedules
    end up eight hours off."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("naive datetime given to the store; all times must be aware UTC")
    return when


class Rows:
    """The mappers for one dialect; ``when`` turns its time column into an aware UTC
    datetime."""

    def __init__(
        self, when: Callable[[Any], datetime], protection: RecordProtection | None = None
    ) -> None:
        self.when = when
        #: opens sealed bodies and case states (``[crypto] at_rest``; gateway.encryption)
        self.protection = protection or RecordProtection()

    def maybe_when(self, value: Any) -> datetime | None:
        return None if value is None else self.when(value)

    def message(self, row: Row) -> MessageRecord:
        """From ``MESSAGE_COLUMNS``."""
        return MessageRecord(
            seq=int(row[0]),
            source=row[1],
            event_id=row[2],
            type=row[3],
            subject=row[4],
            payload_sha256=row[5],
            accepted_at=self.when(row[6]),
            body=self.protection.open(bytes(row[7]), message_record_id(int(row[0]))),
            receipt=bytes(row[8]),
        )

    def delivery(self, row: Row) -> DeliveryRecord:
        """From ``DELIVERY_COLUMNS``."""
        return DeliveryRecord(
            seq=int(row[0]),
            recipient=row[1],
            mode=row[2],
            state=DeliveryState(row[3]),
            attempts=int(row[4]),
            next_attempt_at=self.maybe_when(row[5]),
            last_error=row[6],
            delivered_at=self.maybe_when(row[7]),
            receipt=None if row[8] is None else bytes(row[8]),
            accepted_at=self.maybe_when(row[9]),
        )

    def claimed(self, row: Row) -> ClaimedDelivery:
        """From ``DELIVERY_COLUMNS`` then ``MESSAGE_COLUMNS``."""
        split = len(DELIVERY_COLUMNS)
        return ClaimedDelivery(self.delivery(row[:split]), self.message(row[split:]))

    def case(self, row: Row) -> CaseRecord:
        """From ``CASE_COLUMNS``."""
        return CaseRecord(
            case_id=row[0],
            stage=row[1],
            status=row[2],
            opened_at=self.when(row[3]),
            deadline=self.when(row[4]),
            version=int(row[5]),
            state=self.protection.open(bytes(row[6]), case_record_id(row[0])),
        )


def message_values(record: MessageRecord) -> dict[str, object]:
    """The named parameters that store ``record``: its fields, by column name."""
    return {
        "seq": record.seq,
        "source": record.source,
        "event_id": record.event_id,
        "type": record.type,
        "subject": record.subject,
        "payload_sha256": record.payload_sha256,
        "accepted_at": record.accepted_at,
        "body": record.body,
        "receipt": record.receipt,
    }


def audit_row(row: Row) -> AuditRow:
    """``seq, entry, prev_hash, hash`` as stored."""
    return (int(row[0]), bytes(row[1]), str(row[2]), str(row[3]))


def event_from_entry(entry: bytes) -> AuditEvent:
    """Rebuild the event from its stored canonical bytes (the bytes are the truth; they
    were written by ``gateway.audit.chain.entry_bytes``)."""
    data = orjson.loads(entry)
    return AuditEvent(
        action=data["action"],
        actor=data["actor"],
        at=datetime.fromisoformat(data["at"]),
        target=data["target"],
        detail=data["detail"],
    )


def audit_record(row: AuditRow) -> AuditRecord:
    seq, entry, prev_hash, digest = row
    return AuditRecord(seq=seq, event=event_from_entry(entry), prev_hash=prev_hash, hash=digest)


def message_record_id(seq: int) -> str:
    """The id a message body is sealed under (its associated data at rest)."""
    return f"message/{seq}"


def case_record_id(case_id: str) -> str:
    """The id a case state is sealed under (its associated data at rest)."""
    return f"case/{case_id}"


def next_entry(head: Row | None, event: AuditEvent, genesis: str) -> AuditRow:
    """The entry that chains ``event`` after ``head`` (``seq, hash`` of the last entry; None
    or NULLs when the chain is empty, which then starts from ``genesis``: the chain's digest,
    gateway.audit.chain)."""
    if head is None or head[0] is None:
        seq, prev_hash = 1, genesis
    else:
        seq, prev_hash = int(head[0]) + 1, str(head[1])
    body = entry_bytes(seq, event)
    return (seq, body, prev_hash, link(prev_hash, body))
