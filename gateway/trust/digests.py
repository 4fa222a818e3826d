"""The digest a deployment chooses: SHA-256 (FIPS 180-4) or SM3 (GM/T 0004-2012).

``[crypto] digest`` in gateway.toml picks one for the audit chain and for the payload digest
in receipts. SHA-256 is the standard library's; SM3 is Tongsuo's, through ``tongsuopy``, the
same library that signs with SM2 (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
from typing import Literal, get_args

from tongsuopy.crypto import hashes

__all__ = ["DIGESTS", "DigestName", "digest", "hexdigest"]

DigestName = Literal["sha256", "sm3"]
DIGESTS: tuple[DigestName, ...] = get_args(DigestName)


def digest(name: DigestName, data: bytes) -> bytes:
    """The 32-byte digest of ``data`` with ``name``; ``ValueError`` for another name."""
    if name == "sha256":
        return hashlib.sha256(data).digest()
    if name == "sm3":
        context = hashes.Hash(hashes.SM3())
        context.update(data)
        result: bytes = context.finalize()
        return result
    raise ValueError(f"unknown digest {name!r}; one of {DIGESTS}")


def hexdigest(name: DigestName, data: bytes) -> str:
    """``digest`` as 64 lower-case hex digits."""
    return digest(name, data).hex()
