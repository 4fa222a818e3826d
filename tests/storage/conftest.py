"""Fixtures for the storage tests: a hand-driven clock and a real store per test.

The ``store`` fixture runs each test against both backends: a fresh SQLite file, and a
PostgreSQL schema reset for the test inside the session database of ``tests/conftest.py``
(``pg_database``, ``pg_url``; skipped where PostgreSQL is down, failing instead under CI).
Tests marked ``sqlite_only(reason)`` are skipped for PostgreSQL with that reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.audit.chain import AuditEvent
from gateway.clock import ManualClock
from gateway.storage.base import AcceptRequest
from gateway.storage.postgres import PostgresStore
from gateway.storage.sqlite import SqliteStore
from tests.conftest import reset_schema

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
        "markers", "sqlite_only(reason): the test is about SQLite internals; not run for PostgreSQL"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``backend`` is every store, or only SQLite for a test marked ``sqlite_only`` (its
    reason says why): such a test is not generated for PostgreSQL rather than skipped."""
    if "backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", ["sqlite"] if only_sqlite else ["sqlite", "postgres"])


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
