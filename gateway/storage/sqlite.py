"""The embedded SQLite driver (WAL): what ``gateway serve`` uses with nothing else installed.
The store's logic is ``gateway.storage.core``; this module only runs its scripts.

Why one writer thread with group commit: SQLite allows one writer at a time and, with
``synchronous=FULL``, each COMMIT costs an fsync. A 202 may only be sent once the message is
durable (DESIGN section 6), so committing each acceptance on its own would cap throughput at
the disk's fsync rate. Instead every write is queued to a single thread that owns the write
connection; it takes everything waiting (up to ``max_batch``), runs each job inside its own
SAVEPOINT within ONE transaction, COMMITs once, and only then resolves each caller's future.
A job that fails (a ``build`` callback raising, a constraint) rolls back to its savepoint and
fails only its caller. Durability is unchanged: nobody hears "done" before the fsync.

Reads go through a small pool of separate connections: WAL lets readers proceed while the
writer commits, and they only ever see committed data, so a caller that has been told its
message is accepted will find it.

A script (``gateway.storage.connector``) is a coroutine that awaits only its ``Tx``, whose
SQLite methods never suspend, so the writer and reader threads run it to completion with
``drive`` and no event loop.

Times are stored as integer microseconds since the epoch (UTC), which round-trip exactly;
lists travel as one JSON array parameter (read with ``json_each``). SQLite has none of the
shared-store capabilities: one process owns the file (``Capabilities``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from gateway.clock import Clock
from gateway.encryption.protection import RecordProtection
from gateway.problems import StoreError
from gateway.storage.base import Capabilities, Unsupported
from gateway.storage.connector import Script, Tx, answers
from gateway.storage.core import StoreCore
from gateway.storage.migrate import load_migrations, migrate_sqlite
from gateway.storage.rows import FRAGMENTS, Row, aware
from gateway.storage.sql import Query, load_queries
from gateway.trust.digests import DigestName

if TYPE_CHECKING:
    from gateway.delivery.wakeup import Wakeup

T = TypeVar("T")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SYNCHRONOUS: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
#: One process owns the file: nothing to share with other instances.
CAPABILITIES: Final = Capabilities(listen=False, token_uses=False, shared_admin_state=False)


def to_micros(when: datetime) -> int:
    """Aware datetime -> integer microseconds since the epoch (ValueError if naive)."""
    delta = aware(when) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


#: Values SQLite takes as they are; anything else goes through ``_convert``.
_AS_IS: Final = frozenset({str, int, bytes, type(None)})


def _convert(value: object) -> object:
    """A script's value as SQLite stores it: times as microseconds, lists as JSON."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, list | tuple):
        return orjson.dumps(value).decode()
    return value


class SqliteTx(Tx):
    """Queries on one connection, inside whatever transaction its thread has begun."""

    def __init__(self, conn: sqlite3.Connection, queries: Mapping[str, Query]) -> None:
        super().__init__(queries)
        self._conn = conn

    async def _execute(
        self, query: Query, params: Mapping[str, object], want_rows: bool
    ) -> tuple[list[Row], int]:
        rows: list[Row] = []
        count = 0
        # SQLite binds ``:name`` from the mapping itself, ignoring names a statement lacks.
        values = params
        if not all(type(v) in _AS_IS for v in params.values()):
            values = {k: _convert(v) for k, v in params.items()}
        for statement in query.statements:
            cursor = self._conn.execute(statement.text, values)
            rows = cursor.fetchall()  # all: a half-stepped statement would block RELEASE
            count = cursor.rowcount
        return rows, count


def drive(script: Script[T], tx: SqliteTx) -> T:
    """Run ``script`` to completion on this thread. It awaits only ``tx``, whose methods
    never suspend, so one ``send`` finishes it; a script that does suspend is a bug in the
    core and fails loudly rather than hanging the writer."""
    coroutine = script(tx)
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("a store script awaited something other than its transaction")


def _store_error(exc: BaseException) -> BaseException:
    """Database faults become StoreError (503 to clients); the caller's own exceptions (for
    instance from ``build``) pass through unchanged so it can tell them apart."""
    if isinstance(exc, sqlite3.Error):
        err = StoreError(f"database error: {exc}")
        err.__cause__ = exc
        return err
    return exc


@dataclass(slots=True)
class _Job:
    script: Script[Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class _Stop:
    """Queue sentinel: everything queued before it is still run."""


_STOP: Final = _Stop()


def _settle_all(outcomes: list[tuple[asyncio.Future[Any], BaseException | None, Any]]) -> None:
    for future, error, value in outcomes:
        _settle(future, error, value)


def _settle(future: asyncio.Future[Any], error: BaseException | None, value: Any) -> None:
    if future.done():  # the caller was cancelled; the work itself still happened
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class SqliteConnector:
    """The driver over one SQLite file. See the module docstring for the threading model."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        max_batch: int = 256,
        readers: int = 4,
    ) -> None:
        sync = synchronous.upper()
        if sync not in _SYNCHRONOUS:
            raise ValueError(
                f"synchronous must be one of {sorted(_SYNCHRONOUS)}, not {synchronous!r}"
            )
        if max_batch < 1 or readers < 1:
            raise ValueError("max_batch and readers must be at least 1")
        self.path = Path(path)
        self.name = f"SQLite store at {self.path}"
        self.clock = clock
        self.synchronous = sync
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.max_batch = max_batch
        self.readers = readers
        #: Write transactions committed so far: with group commit this grows slower than the
        #: number of writes. Tests and the benchmark read it.
        self.commits = 0
        #: Write jobs run so far (committed or failed), for the same purpose.
        self.jobs = 0
        self._queue: queue.SimpleQueue[_Job | _Stop] = queue.SimpleQueue()
        self._submit_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._accepting = False
        self._read_pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_executor: ThreadPoolExecutor | None = None
        self._queries = load_queries("sqlite", FRAGMENTS)

    # ------------------------------------------------------------------ lifecycle

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
            timeout=self.busy_timeout_ms / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        # Savepoint sub-journals in memory: each job's SAVEPOINT otherwise spills the pages
        # it changes to a temporary file, which measured at about a third of a job's cost.
        conn.execute("PRAGMA temp_store = MEMORY")
        return conn

    async def open(self) -> None:
        """Open the file, switch to WAL, run migrations, start the writer and the readers."""
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        writer = threading.Thread(
            target=self._writer_main, args=(loop, ready), name=f"sqlite-writer:{self.path.name}"
        )
        writer.daemon = True
        writer.start()
        try:
            await ready
        except BaseException:
            await asyncio.to_thread(writer.join)
            raise
        self._writer = writer
        try:
            for _ in range(self.readers):
                conn = await asyncio.to_thread(self._connect)
                conn.execute("PRAGMA query_only = ON")
                self._read_conns.append(conn)
                self._read_pool.put(conn)
        except sqlite3.Error as exc:
            await self.close()
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._read_executor = ThreadPoolExecutor(
            max_workers=self.readers, thread_name_prefix=f"sqlite-reader:{self.path.name}"
        )
        self._accepting = True

    async def close(self) -> None:
        """Stop taking work, let the writer finish everything already queued (so no caller is
        left waiting), then close every connection."""
        with self._submit_lock:
            self._accepting = False
            writer, self._writer = self._writer, None
            if writer is not None:
                self._queue.put(_STOP)
        if writer is not None:
            await asyncio.to_thread(writer.join)
        # Anything that slipped in after the sentinel (cannot happen under the lock, but a
        # hang here would be worse than the check) fails instead of waiting for ever.
        self._fail_leftovers()
        if self._read_executor is not None:
            await asyncio.to_thread(self._read_executor.shutdown, True)
            self._read_executor = None
        for conn in self._read_conns:
            conn.close()
        self._read_conns.clear()
        self._read_pool = queue.SimpleQueue()

    def _fail_leftovers(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Job):
                self._resolve(job, StoreError("the store is closed"), None)

    async def ping(self) -> bool:
        writer = self._writer
        if not self._accepting or writer is None or not writer.is_alive():
            return False
        try:
            return await self.read(answers)
        except (StoreError, sqlite3.Error):
            return False

    # ------------------------------------------------------------------ the writer thread

    def _writer_main(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL (journal mode is {mode})")
            migrate_sqlite(conn, load_migrations("sqlite"), self.clock.now())
        except BaseException as exc:
            if conn is not None:
                conn.close()
            err = (
                exc
                if isinstance(exc, StoreError)
                else StoreError(f"cannot open {self.path}: {exc}")
            )
            if err is not exc:
                err.__cause__ = exc
            loop.call_soon_threadsafe(_settle, ready, err, None)
            return
        loop.call_soon_threadsafe(_settle, ready, None, None)
        try:
            while True:
                first = self._queue.get()
                if isinstance(first, _Stop):
                    break
                batch = [first]
                stop = False
                while len(batch) < self.max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(nxt, _Stop):
                        stop = True
                        break
                    batch.append(nxt)
                self._run_batch(conn, batch)
                if stop:
                    break
        finally:
            # Whether stopped or dying, refuse new work and fail whatever is still queued:
            # a caller must never wait on a writer that is gone.
            with self._submit_lock:
                self._accepting = False
            self._fail_leftovers()
            with contextlib.suppress(sqlite3.Error):
                # A clean checkpoint on the way out keeps the WAL file small between runs.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        """One transaction for the whole batch; each job in its own savepoint."""
        outcomes: list[tuple[_Job, BaseException | None, Any]] = []
        tx = SqliteTx(conn, self._queries)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = drive(job.script, tx)
                except Exception as exc:
                    # If this raises too (the whole transaction was lost, e.g. disk full),
                    # the outer handler fails the entire batch.
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((job, _store_error(exc), None))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((job, None, value))
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            err = StoreError(f"write transaction failed: {exc}")
            err.__cause__ = exc
            self.jobs += len(batch)
            self._resolve_all([(job, err, None) for job in batch])
            if not isinstance(exc, Exception):
                raise
            return
        self.commits += 1
        self.jobs += len(batch)
        self._resolve_all(outcomes)

    @staticmethod
    def _resolve(job: _Job, error: BaseException | None, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop has already closed
            job.loop.call_soon_threadsafe(_settle, job.future, error, value)

    @staticmethod
    def _resolve_all(outcomes: list[tuple[_Job, BaseException | None, Any]]) -> None:
        """One wake-up per event loop for the whole batch, not one per job: waking the loop
        256 times would have it compete with the writer for the GIL mid-batch."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
        for job, error, value in outcomes:
            by_loop.setdefault(job.loop, []).append((job.future, error, value))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the caller's loop has already closed
                loop.call_soon_threadsafe(_settle_all, items)

    async def write(self, script: Script[T]) -> T:
        """Queue ``script`` for the writer; returns once its transaction has COMMITTED."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._submit_lock:
            if not self._accepting:
                raise StoreError("the store is not open")
            self._queue.put(_Job(script, future, loop))
        return await future

    async def read(self, script: Script[T], *, snapshot: bool = False) -> T:
        """Run ``script`` on a pooled read connection in a worker thread; ``snapshot``: in
        one read transaction, so every query sees the same commit."""
        executor = self._read_executor
        if executor is None or not self._accepting:
            raise StoreError("the store is not open")

        def run() -> T:
            conn = self._read_pool.get()
            try:
                if snapshot:
                    conn.execute("BEGIN")
                return drive(script, SqliteTx(conn, self._queries))
            except sqlite3.Error as exc:
                raise StoreError(f"database error: {exc}") from exc
            finally:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                self._read_pool.put(conn)

        return await asyncio.get_running_loop().run_in_executor(executor, run)

    # ------------------------------------------------------------------ the dialect

    def when(self, value: Any) -> datetime:
        return from_micros(int(value))

    def notice(self, due: Sequence[tuple[str, str]]) -> str | None:
        """Nobody else to tell: this process woke itself in process."""
        return None

    async def listen(self, callback: Callable[[Wakeup], None]) -> None:
        raise Unsupported(self.name, "listen")


class SqliteStore(StoreCore[SqliteConnector]):
    """``Store`` over one SQLite file: the core over ``SqliteConnector``."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        max_batch: int = 256,
        readers: int = 4,
        protection: RecordProtection | None = None,
        digest: DigestName | None = None,
    ) -> None:
        super().__init__(
            SqliteConnector(
                path,
                clock=clock,
                synchronous=synchronous,
                busy_timeout_ms=busy_timeout_ms,
                max_batch=max_batch,
                readers=readers,
            ),
            protection=protection,
            digest=digest,
        )
