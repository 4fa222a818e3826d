"""Storage: one interface (``base.Store``), one implementation of it (``core.StoreCore``) over
two thin drivers, SQLite (``sqlite``) and PostgreSQL (``postgres``).

Where things are: the records and the protocol with its declared ``Capabilities`` in
``base``; the logic of every operation in ``core``; the column lists, row mappers and audit
codec in ``rows``; the SQL by name in ``sql/common.sql`` and one file per dialect; a
driver's contract in ``connector``. ``factory.open_store(url)`` picks a driver.
"""

from gateway.storage.base import (
    AcceptOutcome,
    AcceptRequest,
    AuditRecord,
    Capabilities,
    DeliveryRecord,
    DeliveryState,
    MessageRecord,
    Store,
    Unsupported,
)

__all__ = [
    "AcceptOutcome",
    "AcceptRequest",
    "AuditRecord",
    "Capabilities",
    "DeliveryRecord",
    "DeliveryState",
    "MessageRecord",
    "Store",
    "Unsupported",
]
