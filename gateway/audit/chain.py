"""Hash chaining of audit entries.

Each entry's hash covers the previous entry's hash and the entry's own canonical bytes, so
changing any byte of any entry breaks every hash after it. Canonical bytes are orjson with
sorted keys: entries are produced by the gateway itself (never by clients), so a fixed
serialisation is safe here, unlike for messages, which are never re-serialised.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

GENESIS = "0" * 64


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


def link(prev_hash: str, body: bytes) -> str:
    """The hash of an entry whose canonical bytes are ``body`` following ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()
