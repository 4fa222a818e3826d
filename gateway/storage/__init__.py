"""Storage: one interface (``base.Store``), SQLite and PostgreSQL behind it.

SQL dialect lives only in the implementation modules. ``open_store(url)`` picks one.
"""

from gateway.storage.base import (
    AcceptOutcome,
    AcceptRequest,
    AuditRecord,
    DeliveryRecord,
    DeliveryState,
    MessageRecord,
    Store,
)

__all__ = [
    "AcceptOutcome",
    "AcceptRequest",
    "AuditRecord",
    "DeliveryRecord",
    "DeliveryState",
    "MessageRecord",
    "Store",
]
