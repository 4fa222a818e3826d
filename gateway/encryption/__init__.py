"""Encryption at rest (``[crypto] at_rest = "sm4-gcm"``; docs/miping.md).

``codec``: one stored record sealed with SM4-GCM under a key of a key ring, its id as
associated data. ``keyring``: where keys come from (a key file, or an external KMS through
the ``KeyRing`` protocol). ``errors``: the one exception root of this concern.
"""

from gateway.encryption.codec import MAGIC, RecordCodec, is_sealed
from gateway.encryption.errors import (
    AtRestError,
    KeyRingError,
    RecordDecryptError,
    UnknownRecordKeyError,
)
from gateway.encryption.keyring import FileKeyRing, KeyRing, MemoryKeyRing

__all__ = [
    "MAGIC",
    "AtRestError",
    "FileKeyRing",
    "KeyRing",
    "KeyRingError",
    "MemoryKeyRing",
    "RecordCodec",
    "RecordDecryptError",
    "UnknownRecordKeyError",
    "is_sealed",
]
