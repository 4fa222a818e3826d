"""The attachment tables, reached through a thin driver per dialect.

Queries are named once in ``sql/<dialect>.sql`` (``-- name: x`` sections) and asked for by
name; the drivers only run them. The tables live in the gateway's own database (migration
0018), beside the messages whose references decide who may read an attachment.

SQLite: one connection of its own to the gateway's file (WAL, so it reads beside the store's
writer; writes wait on ``busy_timeout``), used by one thread of its own, one call at a time.
PostgreSQL: a small asyncpg pool of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
from collections.abc import AsyncIterable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gateway.problems import StoreError

#: a query's name line, ``-- name: <name>``, to the end of its line
_NAME = re.compile(r"^-- name: (\w+)[ \t\r]*(?=\n|\Z)", re.M)
Row = Sequence[Any]
T = TypeVar("T")


@functools.cache
def queries(dialect: str) -> dict[str, str]:
    """The named queries of ``dialect`` ("sqlite", "postgresql")."""
    text = (resources.files("gateway.attachments") / "sql" / f"{dialect}.sql").read_text("utf-8")
    parts = _NAME.split(text)[1:]
    return {name: sql.strip() for name, sql in zip(parts[::2], parts[1::2], strict=True)}


class Database(Protocol):
    """What the attachment service asks of the database."""

    async def one(self, name: str, *args: Any) -> Row | None: ...

    async def all(self, name: str, *args: Any) -> list[Row]: ...

    async def execute(self, name: str, *args: Any) -> int:
        """Run ``name``; the number of rows it changed."""
        ...

    async def execute_each(self, name: str, rows: AsyncIterable[tuple[Any, ...]]) -> None:
        """Run ``name`` once per row, all in one transaction."""
        ...

    async def close(self) -> None: ...


class SqliteDatabase:
    """One connection of its own, used by one thread of its own: every call (the statement and
    the reading of its rows) runs there, in the order asked. A caller cancelled while its call
    runs cannot start a second call on the connection beside it, nor close the connection under
    it: the next call, ``close`` included, waits behind it in the same thread (two threads in one
    ``sqlite3.Connection`` at once crash the process)."""

    def __init__(self, path: Path, busy_timeout_ms: int = 10_000) -> None:
        self._sql = queries("sqlite")
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attachments-sqlite")
        self._lock = asyncio.Lock()  # a transaction of execute_each is not interleaved

    async def _in_thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def _run(
        self, name: str, args: tuple[Any, ...], read: Callable[[sqlite3.Cursor], T]
    ) -> T:
        sql = self._sql[name]
        async with self._lock:
            try:
                return await self._in_thread(lambda: read(self._conn.execute(sql, args)))
            except sqlite3.Error as exc:
                raise StoreError(f"attachments: {name} failed ({type(exc).__name__})") from exc

    async def one(self, name: str, *args: Any) -> Row | None:
        row: Row | None = await self._run(name, args, lambda cursor: cursor.fetchone())
        return row

    async def all(self, name: str, *args: Any) -> list[Row]:
        return await self._run(name, args, lambda cursor: list(cursor.fetchall()))

    async def execute(self, name: str, *args: Any) -> int:
        return await self._run(name, args, lambda cursor: cursor.rowcount)

    async def execute_each(self, name: str, rows: AsyncIterable[tuple[Any, ...]]) -> None:
        sql, conn = self._sql[name], self._conn
        async with self._lock:
            try:
                await self._in_thread(lambda: conn.execute("BEGIN IMMEDIATE"))
                try:
                    async for row in rows:
                        await self._in_thread(functools.partial(conn.execute, sql, row))
                    await self._in_thread(lambda: conn.execute("COMMIT"))
                except BaseException:
                    await self._in_thread(lambda: conn.execute("ROLLBACK"))
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"attachments: {name} failed ({type(exc).__name__})") from exc

    async def close(self) -> None:
        async with self._lock:
            await self._in_thread(self._conn.close)
        self._thread.shutdown(wait=True)


@contextlib.contextmanager
def _faults(name: str) -> Iterator[None]:
    """A database fault (PostgreSQL away, a query refused) is a ``StoreError`` (503), never
    a 500; the caller's own errors pass through."""
    import asyncpg

    try:
        yield
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreError(f"attachments: {name} failed ({type(exc).__name__})") from exc


class PostgresDatabase:
    def __init__(self, pool: Any) -> None:
        self._sql = queries("postgresql")
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> PostgresDatabase:
        import asyncpg

        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreError(f"attachments: cannot connect ({type(exc).__name__})") from exc
        return cls(pool)

    async def one(self, name: str, *args: Any) -> Row | None:
        with _faults(name):
            row: Row | None = await self._pool.fetchrow(self._sql[name], *args)
        return row

    async def all(self, name: str, *args: Any) -> list[Row]:
        with _faults(name):
            return list(await self._pool.fetch(self._sql[name], *args))

    async def execute(self, name: str, *args: Any) -> int:
        with _faults(name):
            status: str = await self._pool.execute(self._sql[name], *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def execute_each(self, name: str, rows: AsyncIterable[tuple[Any, ...]]) -> None:
        sql = self._sql[name]
        with _faults(name):
            async with self._pool.acquire() as conn, conn.transaction():
                async for row in rows:
                    await conn.execute(sql, *row)

    async def close(self) -> None:
        await self._pool.close()
