"""A small versioned-migration runner shared by the storage backends.

Why not a framework: the schema is a handful of tables per backend, and the gateway must be
able to upgrade its own embedded database on start with nothing else installed. Each backend
keeps plain SQL files in ``migrations/<dialect>/NNNN_description.sql``; the version is the
leading number. A ``schema_migrations(version, applied_at)`` table records what ran. Files
are applied in version order, each in its own transaction together with its bookkeeping row,
so a crash mid-upgrade leaves the database at the previous version, never half-way.

A database already at a version this build does not know (a newer gateway wrote it) is
refused rather than used: running old code against a newer schema is how data gets lost.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Protocol

from gateway.problems import StoreError

_NAME = re.compile(r"(\d{4,})_([A-Za-z0-9_]+)\.sql")

# An arbitrary constant: the advisory lock key that serialises concurrent upgrades when
# several gateway instances start against one PostgreSQL database at the same moment.
PG_ADVISORY_LOCK_KEY = 0x7A6A_7863  # "zjxc"

SCHEMA_MIGRATIONS_SQLITE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " applied_at TEXT NOT NULL)"
)
SCHEMA_MIGRATIONS_PG = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " applied_at TIMESTAMPTZ NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: str, base: Traversable | None = None) -> list[Migration]:
    """The migration files shipped for ``dialect`` ("sqlite", "postgresql"), in order.

    Read through importlib.resources so they are found inside an installed wheel too
    (``base`` overrides the ``migrations`` folder, for tests). Duplicate version numbers are
    a packaging mistake and fail loudly.
    """
    if base is None:
        base = resources.files("gateway.storage") / "migrations"
    root = base / dialect
    found: dict[int, Migration] = {}
    if not root.is_dir():
        return []
    for entry in root.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise StoreError(
                f"two migrations with version {version} for {dialect}: "
                f"{found[version].name} and {entry.name}"
            )
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def _check_known(applied: set[int], migrations: Sequence[Migration]) -> None:
    known = {m.version for m in migrations}
    unknown = sorted(applied - known)
    if unknown and unknown[-1] > max(known, default=0):
        raise StoreError(
            f"database schema is at version {unknown[-1]}, newer than this gateway knows "
            f"({max(known, default=0)}); upgrade the gateway instead of downgrading the schema"
        )


def migrate_sqlite(
    conn: sqlite3.Connection, migrations: Sequence[Migration], applied_at: datetime
) -> list[int]:
    """Apply the pending ``migrations`` to an SQLite connection; returns the versions applied.

    The connection must be in autocommit mode (``isolation_level=None``). Each file runs in
    ``BEGIN IMMEDIATE ... COMMIT`` through ``executescript`` (which may hold several
    statements, triggers included); on any error the transaction is rolled back and the
    error is raised, leaving earlier versions applied.
    """
    conn.execute(SCHEMA_MIGRATIONS_SQLITE)
    done: list[int] = []
    for migration in migrations:
        # Re-read each time: another process may have upgraded meanwhile (BEGIN IMMEDIATE
        # below serialises the actual work; this read only avoids needless locking).
        applied = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
        _check_known(applied, migrations)
        if migration.version in applied:
            continue
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            "INSERT INTO schema_migrations (version, applied_at) "
            f"VALUES ({int(migration.version)}, '{applied_at.isoformat()}');\n"
            "COMMIT;\n"
        )
        # Two processes may race to the same version: the loser's INSERT hits the primary
        # key (or its CREATE TABLE fails) and rolls back; re-check before reporting failure.
        try:
            conn.executescript(script)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            again = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
            if migration.version in again:
                continue
            raise StoreError(f"migration {migration.name} failed: {exc}") from exc
        done.append(migration.version)
    return done


class AsyncTransaction(Protocol):
    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc: object) -> Any: ...


class AsyncConnection(Protocol):
    """The subset of an asyncpg connection the runner needs."""

    async def execute(self, query: str, *args: Any) -> Any: ...
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...
    def transaction(self) -> AsyncTransaction: ...


async def migrate_async(
    conn: AsyncConnection, migrations: Sequence[Migration], applied_at: datetime
) -> list[int]:
    """Apply pending ``migrations`` over an asyncpg-style connection (PostgreSQL).

    A session advisory lock serialises concurrent starts of several instances; each file and
    its bookkeeping row commit together (PostgreSQL DDL is transactional).
    """
    await conn.execute("SELECT pg_advisory_lock($1)", PG_ADVISORY_LOCK_KEY)
    try:
        await conn.execute(SCHEMA_MIGRATIONS_PG)
        # Read under the lock: an instance that started first may have upgraded meanwhile.
        rows = await conn.fetch("SELECT version FROM schema_migrations")
        applied = {int(r[0]) for r in rows}
        _check_known(applied, migrations)
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            try:
                async with conn.transaction():
                    # No arguments: asyncpg then uses the simple query protocol, which runs
                    # a file of several statements (and $$-quoted function bodies).
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                        migration.version,
                        applied_at,
                    )
            except Exception as exc:
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(f"migration {migration.name} failed: {exc}") from exc
            done.append(migration.version)
        return done
    finally:
        # A broken connection releases its session lock anyway; do not let a failing unlock
        # hide the error that got us here.
        with contextlib.suppress(Exception):
            await conn.execute("SELECT pg_advisory_unlock($1)", PG_ADVISORY_LOCK_KEY)
