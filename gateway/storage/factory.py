"""Pick the storage backend from one setting (DESIGN section 8).

Why a URL: operators configure one string (``[storage] url``); a bare path means the embedded
SQLite default, so ``gateway serve`` needs nothing else. PostgreSQL is imported only when
asked for, so the embedded setup never loads asyncpg.

The store is returned unopened: the caller ``await``s ``store.open()`` (which runs the
migrations) and ``store.close()`` in its own lifecycle.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from gateway.clock import Clock
from gateway.encryption.protection import RecordProtection
from gateway.problems import ConfigError
from gateway.storage.base import Store
from gateway.storage.sqlite import SqliteStore
from gateway.trust.digests import DigestName

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


def sqlite_path(url: str) -> tuple[Path, dict[str, str]]:
    """``sqlite:///relative/x.db`` or ``sqlite:////absolute/x.db`` (SQLAlchemy's convention)
    -> the path and the query options, e.g. ``?synchronous=NORMAL``."""
    if not url.startswith(_SQLITE_PREFIX):
        raise ConfigError(f"storage URL {url!r}: expected sqlite:///<path>")
    rest = url[len(_SQLITE_PREFIX) :]
    raw_path, _, query = rest.partition("?")
    if not raw_path:
        raise ConfigError(f"storage URL {url!r} names no file")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    return Path(unquote(raw_path)), options


def open_store(
    url: str | Path,
    clock: Clock,
    *,
    protection: RecordProtection | None = None,
    digest: DigestName | None = None,
) -> Store:
    """A path or ``sqlite:///path`` -> ``SqliteStore``; ``postgresql://...`` -> PostgresStore.
    ``protection`` and ``digest`` are ``[crypto]``'s (gateway.storage.core.StoreCore)."""
    crypto: dict[str, Any] = {"protection": protection, "digest": digest}
    if isinstance(url, Path) or "://" not in url:
        return SqliteStore(Path(url), clock=clock, **crypto)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        path, options = sqlite_path(url)
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise ConfigError(f"storage URL: unknown SQLite option(s) {sorted(unknown)}")
        try:
            synchronous = options.get("synchronous", "FULL")
            return SqliteStore(path, clock=clock, synchronous=synchronous, **crypto)
        except ValueError as exc:
            raise ConfigError(f"storage URL: {exc}") from exc
    if scheme in _POSTGRES_SCHEMES:
        # Imported by name so this module neither loads asyncpg nor depends, for type
        # checking, on the PostgreSQL backend being present.
        module = importlib.import_module("gateway.storage.postgres")
        try:
            return cast(Store, module.PostgresStore.from_url(url, clock=clock, **crypto))
        except ValueError as exc:
            raise ConfigError(f"storage URL: {exc}") from exc
    raise ConfigError(
        f"storage URL scheme {scheme!r} is not supported (use a path, sqlite:/// or postgresql://)"
    )
