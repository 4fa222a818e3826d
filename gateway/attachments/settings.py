"""How attachments are kept and limited, from the environment (``GATEWAY_ATTACHMENT_*``).

Defaults: at most 20 MiB per file; stored in the data directory (``filesystem``) on the
embedded SQLite store and in the database (``database``, chunked) on PostgreSQL, where several
instances share it; or in an S3-compatible bucket (``s3``, ``GATEWAY_ATTACHMENT_S3_*``). An
upload no message references is purged after 24 hours; signed download links for push
recipients last 300 s; an upload's body must keep arriving (each read within ``[http]
body_timeout``) and arrive whole within 300 s; no virus scan unless ``GATEWAY_CLAMD`` names clamd.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

from gateway.problems import ConfigError

StoreKind = Literal["filesystem", "database", "s3"]
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
    for kind in get_args(StoreKind):
        if value == kind:
            return cast(StoreKind, kind)
    raise ConfigError("GATEWAY_ATTACHMENT_STORE must be filesystem, database or s3")


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
    #: the whole upload body, seconds (20 MiB in 300 s is 70 KB/s); each read besides
    #: within ``[http] body_timeout``
    body_seconds: int = field(
        default_factory=lambda: _env_int("GATEWAY_ATTACHMENT_BODY_SECONDS", 300)
    )
    #: the S3-compatible store (``store = "s3"``): endpoint URL (None: AWS), bucket, key prefix
    s3_endpoint: str | None = field(
        default_factory=lambda: os.environ.get("GATEWAY_ATTACHMENT_S3_ENDPOINT") or None
    )
    s3_bucket: str = field(
        default_factory=lambda: os.environ.get("GATEWAY_ATTACHMENT_S3_BUCKET", "")
    )
    s3_prefix: str = field(
        default_factory=lambda: os.environ.get("GATEWAY_ATTACHMENT_S3_PREFIX", "attachments/")
    )
    #: ``unix:/path`` or ``tcp:host:port`` of clamd; None: no scan
    clamd: str | None = field(default_factory=lambda: os.environ.get("GATEWAY_CLAMD") or None)
