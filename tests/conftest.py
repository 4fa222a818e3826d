"""Shared fixtures. Area-specific fixtures live in each area's own conftest.

The PostgreSQL fixtures live here because the whole suite, not only the storage tests, runs
on both stores (DESIGN.md section 8): every test that starts a gateway takes ``database``,
which is parametrised over ``sqlite`` and ``postgresql`` so each such test runs twice and its
id names the store (``test_x[sqlite]``, ``test_x[postgresql]``).

PostgreSQL is one database per test session (``zjx_test_<random>``, created from the
``postgres`` database and dropped at the end) whose schema is emptied before each test that
asks for it: cheaper than a database per test, and just as fresh. Where PostgreSQL cannot be
reached the PostgreSQL cases are skipped with the reason, unless the environment variable CI
is set: then they fail, so CI cannot go green without running them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

#: Where the test databases are created from; override with ZJX_TEST_POSTGRES_URL.
ADMIN_URL = os.environ.get("ZJX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

#: The stores every gateway-level test runs on; the names appear in the test ids.
STORES = ("sqlite", "postgresql")


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


def postgres_unreachable(reason: str) -> None:
    """Skip, or fail under CI: a green CI must have run the PostgreSQL tests."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so PostgreSQL tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database for this test session; yields its URL."""
    name = f"zjx_test_{secrets.token_hex(6)}"
    try:
        _in_thread(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        postgres_unreachable(f"PostgreSQL unreachable at {ADMIN_URL}: {exc!r}")
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


@pytest.fixture
async def pg_url(pg_database: str) -> str:
    """For PostgreSQL-only tests: the session database, schema reset."""
    await reset_schema(pg_database)
    return pg_database


@pytest.fixture(params=STORES)
def database(request: pytest.FixtureRequest) -> str | None:
    """What ``running_gateway(database=...)`` (or ``gateway ... --database``) is given: None
    for the SQLite default (a file in the test's data directory), or the URL of an emptied
    PostgreSQL database. Synchronous, so synchronous tests that run a gateway with
    ``asyncio.run`` can take it too."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_database")
    _in_thread(reset_schema(url))
    return url
