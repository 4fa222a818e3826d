"""How attachments are kept and limited, from the environment (``GATEWAY_ATTACHMENT_*``).

Defaults: at most 20 MiB per file; stored in the data directory (``filesystem``) on the
embedded SQLite store and in the database (``database``, chunked) on PostgreSQL, where several
instances share it; an upload no message references is purged after 24 hours; signed download
URLs for push recipients last 300 s; no virus scan unless ``GATEWAY_CLAMD`` names clamd.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from gateway.problems import ConfigError

StoreKind = Literal["filesystem", "database"]
MIB = 1024 * 1024


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or int(value) <= 0:
        raise ConfigError(f"{name} must be a positive whole number")
    return int(value)


def _store_kind() -> StoreKind | None:
    value = os.environ.get("GATEWAY_ATTACHMENT_STORE") or None
    if value is None:
        return None
    if value not in ("filesystem", "database"):
        raise ConfigError("GATEWAY_ATTACHMENT_STORE must be filesystem or database")
    return "filesystem" if value == "filesystem" else "database"


@dataclass(frozen=True, slots=True)
class AttachmentSettings:
    max_bytes: int = field(
        default_factory=lambda: _env_int("GATEWAY_ATTACHMENT_MAX_BYTES", 20 * MIB)
    )
    #: None: filesystem on SQLite, database on PostgreSQL
    store: StoreKind | None = field(default_factory=_store_kind)
    orphan_seconds: int = field(
        default_factory=lambda: _env_int("GATEWAY_ATTACHMENT_ORPHAN_SECONDS", 24 * 3600)
    )
    url_seconds: int = field(
        default_factory=lambda: _env_int("GATEWAY_ATTACHMENT_URL_SECONDS", 300)
    )
    #: ``unix:/path`` or ``tcp:host:port`` of clamd; None: no scan
    clamd: str | None = field(default_factory=lambda: os.environ.get("GATEWAY_CLAMD") or None)
