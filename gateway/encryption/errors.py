"""The errors of encryption at rest: one root, each naming the record (never its content)."""

from __future__ import annotations

from typing import ClassVar

from gateway import problem_types as pt
from gateway.problem_types import ProblemType
from gateway.problems import GatewayError


class AtRestError(GatewayError):
    """Root: a stored record cannot be sealed or opened. A server-side fault (the store or its
    key ring), never the client's: 500 with a detail that names the record id only."""

    default: ClassVar[ProblemType] = pt.STORAGE_ENCRYPTION


class KeyRingError(AtRestError):
    """The key ring (key file or KMS) is missing, unreadable or malformed."""


class UnknownRecordKeyError(AtRestError):
    """A record was sealed under a key id the key ring does not hold (a wrong key file)."""


class RecordDecryptError(AtRestError):
    """The GCM tag does not verify: the record was changed, moved to another id, or the key
    ring holds a different key under the record's key id."""
