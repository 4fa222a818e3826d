"""Fixtures for the storage tests: a hand-driven clock and a real store per test.

The ``store`` fixture runs each test against both backends: a fresh SQLite file, and a
PostgreSQL schema reset for the test inside one database created for the session
(``zjx_test_<random>``, made from the ``postgres`` database and dropped at the end). Where
PostgreSQL cannot be reached the postgres cases are skipped with the reason, unless the
environment variable CI is set: then they fail, so CI cannot go green without running them.
Tests marked ``sqlite_only(reason)`` are skipped for PostgreSQL with that reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.audit.chain import AuditEvent
from gateway.clock import ManualClock
from gateway.storage.base import AcceptRequest
from gateway.storage.postgres import PostgresStore
from gateway.storage.sqlite import SqliteStore

#: Where the test databases are created from; override with ZJX_TEST_POSTGRES_URL.
ADMIN_URL = os.environ.get("ZJX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

AnyStore = SqliteStore | PostgresStore

START = datetime(2026, 7, 11, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gateway.db"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test is about SQLite internals; skipped for PostgreSQL"
    )


def _in_thread(coro: Any) -> Any:
    """Run a coroutine on its own loop in another thread: session fixtures must not touch
    the per-test event loops pytest-asyncio manages."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database for this test session; yields its URL."""
    name = f"zjx_test_{secrets.token_hex(6)}"
    try:
        _in_thread(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL unreachable at {ADMIN_URL}: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so PostgreSQL tests must run)")
        pytest.skip(reason)
    parts = urlsplit(ADMIN_URL)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        _in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def reset_schema(url: str) -> None:
    """Empty the session database: every test starts from an unmigrated schema."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    marker = request.node.get_closest_marker("sqlite_only")
    if name == "postgres" and marker is not None:
        reason = marker.args[0] if marker.args else "SQLite-specific"
        pytest.skip(f"SQLite only: {reason}")
    return name


@pytest.fixture
async def store_url(backend: str, request: pytest.FixtureRequest, db_path: Path) -> str:
    if backend == "sqlite":
        return str(db_path)
    url: str = request.getfixturevalue("pg_database")
    await reset_schema(url)
    return url


@pytest.fixture
def make_store(backend: str, store_url: str, clock: ManualClock) -> Callable[[], AnyStore]:
    """A new, unopened store on this test's database (several may share it)."""

    def make() -> AnyStore:
        if backend == "sqlite":
            return SqliteStore(Path(store_url), clock=clock)
        return PostgresStore(store_url, clock=clock)

    return make


@pytest.fixture
async def store(make_store: Callable[[], AnyStore]) -> AsyncIterator[AnyStore]:
    s = make_store()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def pg_url(pg_database: str) -> str:
    """For PostgreSQL-only tests: the session database, schema reset."""
    await reset_schema(pg_database)
    return pg_database


def event(action: str, at: datetime = START, target: str = "", **detail: object) -> AuditEvent:
    return AuditEvent(action=action, actor="gateway", at=at, target=target, detail=dict(detail))


def default_build(seq: int) -> tuple[bytes, bytes]:
    return (f'{{"body":{seq}}}'.encode(), f'{{"receipt":{seq}}}'.encode())


def request(
    event_id: str,
    *,
    source: str = "zj.hospital.a",
    recipients: Sequence[tuple[str, str]] = (("zj.hrss", "push"),),
    at: datetime = START,
    build: Callable[[int], tuple[bytes, bytes]] = default_build,
) -> AcceptRequest:
    return AcceptRequest(
        source=source,
        event_id=event_id,
        type="cn.gov.zj.injury.medical_diagnosis.v1",
        subject=None,
        payload_sha256="ab" * 32,
        accepted_at=at,
        recipients=list(recipients),
        build=build,
        audit=event("message.accepted", at=at, target=f"{source}/{event_id}"),
    )
