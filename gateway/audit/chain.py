"""Hash chaining of audit entries.

Each entry's hash covers the previous entry's hash and the entry's own canonical bytes, so
changing any byte of any entry breaks every hash after it. Canonical bytes are orjson with
sorted keys: entries are produced by the gateway itself (never by clients), so a fixed
serialisation is safe here, unlike for messages, which are never re-serialised.

A chain uses one digest, SHA-256 or SM3 (``[crypto] digest``), fixed by its genesis value and
never mixed: a SHA-256 hash is 64 hex digits (as chains made before SM3 existed), an SM3
hash is ``sm3:`` and 64 hex digits. Each link hashes with the digest its ``prev_hash`` names,
so a verifier reads the chain's digest from the chain itself, and a hash of the other kind
anywhere in it fails to verify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from gateway.trust.digests import DigestName, hexdigest

GENESIS = "0" * 64
#: the genesis value of a chain in each digest: its first entry's ``prev_hash``
GENESES: dict[DigestName, str] = {"sha256": GENESIS, "sm3": "sm3:" + "0" * 64}
_PREFIX: dict[DigestName, str] = {"sha256": "", "sm3": "sm3:"}
_HASH = re.compile(r"(?:sm3:)?[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Something that matters happened. ``detail`` must never hold personal data in clear."""

    action: str
    actor: str
    at: datetime
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def entry_bytes(seq: int, event: AuditEvent) -> bytes:
    return orjson.dumps(
        {
            "seq": seq,
            "action": event.action,
            "actor": event.actor,
            "at": event.at.isoformat(),
            "target": event.target,
            "detail": event.detail,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def genesis(digest: DigestName) -> str:
    """The ``prev_hash`` of the first entry of a chain that uses ``digest``."""
    return GENESES[digest]


def digest_of(chain_hash: str) -> DigestName:
    """The digest a chain hash (or genesis value) was made with; ``ValueError`` if it is
    neither 64 hex digits (SHA-256) nor ``sm3:`` and 64 hex digits (SM3)."""
    if _HASH.fullmatch(chain_hash) is None:
        raise ValueError("not a chain hash: 64 hex digits, or 'sm3:' and 64 hex digits")
    return "sm3" if chain_hash.startswith("sm3:") else "sha256"


def link(prev_hash: str, body: bytes) -> str:
    """The hash of an entry whose canonical bytes are ``body`` following ``prev_hash``, in
    the digest ``prev_hash`` was made with."""
    name = digest_of(prev_hash)
    return _PREFIX[name] + hexdigest(name, prev_hash.encode("ascii") + b"\n" + body)
