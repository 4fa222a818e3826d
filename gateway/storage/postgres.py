"""The PostgreSQL driver (asyncpg): for several gateway instances sharing one database.

The store's logic is ``gateway.storage.core``, shared with SQLite; the SQL is in
``sql/postgresql.sql`` (and ``sql/common.sql``). What this driver adds is how concurrency
between instances is handled, since there is no single writer thread to serialise everything:

* Sequence numbers come from a SEQUENCE (``message_seq``). A rolled-back acceptance, or the
  loser of two concurrent submissions of the same (source, event_id), consumes a number, so
  **on PostgreSQL message numbers may have gaps**. They are still strictly increasing and
  never reused (retention cannot cause reuse either).
* **Sequence order is commit order.** The pull inbox and the SSE stream use the number as a
  cursor (``after=<seq>``), so a message committing after a higher-numbered one was handed
  out would be skipped for good. An acceptance therefore takes the audit advisory lock
  *before* ``nextval`` and holds it to its commit: numbers are allocated, and become
  visible, one acceptance at a time (PostgreSQL makes a commit visible before it releases
  the transaction's locks). The lock already serialised every acceptance from its audit
  append through the commit's WAL flush; this widens that window by ``build``, and the
  statements under the lock are merged so the round trips stay as few as before. See
  docs/decisions.md, "Storage".
* Deduplication is ``UNIQUE (source, event_id)`` plus ``INSERT ... ON CONFLICT DO NOTHING``.
  Since every acceptance inserts under the lock, a racing duplicate finds the winner already
  committed: it inserts nothing, rolls back (leaving a gap) and returns the winner's record
  with ``created=False``. (The loser's ``build`` has been called once, for a number that is
  then thrown away; a duplicate arriving after the original committed never calls
  ``build``.)
* The audit log is one hash chain for all instances. Every writer takes
  ``pg_advisory_xact_lock`` inside its own transaction before reading the chain head, so
  entries stay contiguous and correctly linked. Other writers take it as their last lock;
  an acceptance takes it first but then locks only rows it creates itself, which nobody
  else can be holding, so there is still no deadlock.
* ``claim_due`` uses ``FOR UPDATE SKIP LOCKED`` plus a lease (``lease_owner``,
  ``lease_until``): two instances never claim the same delivery, and a lease that runs out
  (its holder died) lets another instance take the delivery over.
* Whenever a delivery becomes due (acceptance, replay) the transaction issues
  ``NOTIFY zjx_deliveries``, which PostgreSQL delivers only once it has committed. The
  payload (``gateway.delivery.wakeup``) says whether a push delivery is due and which pull
  recipients have something new, so ``listen`` on any instance can wake its dispatcher and
  the matching live streams (SSE). ``listen`` re-establishes its connection when it drops.
* The pool is sized by ``min_size`` / ``max_size``, or from the URL by ``from_url``
  (``pool_min_size``, ``pool_max_size``; docs/operations.md).

Times are TIMESTAMPTZ; naive datetimes are refused, and everything read back is an aware
UTC datetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import structlog

from gateway.clock import Clock
from gateway.delivery.wakeup import EVERYTHING, Wakeup, decode, encode
from gateway.encryption.protection import RecordProtection
from gateway.problems import StoreError
from gateway.storage.base import Capabilities
from gateway.storage.connector import Script, Tx, answers
from gateway.storage.core import StoreCore
from gateway.storage.migrate import load_migrations, migrate_async
from gateway.storage.rows import FRAGMENTS, Row
from gateway.storage.sql import Query, load_queries
from gateway.trust.digests import DigestName

T = TypeVar("T")
log = structlog.get_logger("gateway.storage")

#: The channel delivery notifications (push and pull) travel on; ``sql/postgresql.sql``
#: notifies on it by this name.
CHANNEL: Final = "zjx_deliveries"
#: Several instances share the database, and with it what they need to agree on.
CAPABILITIES: Final = Capabilities(listen=True, token_uses=True, shared_admin_state=True)
#: URL query parameters that size the connection pool (docs/operations.md).
_POOL_PARAMETERS: Final = {"pool_min_size": "min_size", "pool_max_size": "max_size"}
#: How often an idle LISTEN connection is probed (a dead network path sends no FIN).
LISTEN_CHECK_SECONDS: Final = 30.0
#: Back-off between attempts to re-establish a dropped LISTEN connection.
RELISTEN_FIRST_DELAY: Final = 0.2
RELISTEN_MAX_DELAY: Final = 10.0

# A connection failure can surface as any of these rather than as a PostgresError.
_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def pool_options(url: str) -> tuple[str, dict[str, int]]:
    """Split ``pool_min_size`` / ``pool_max_size`` off a PostgreSQL URL: (the URL asyncpg
    gets, ``{"min_size": .., "max_size": ..}`` for what was given)."""
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    sizes: dict[str, int] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _POOL_PARAMETERS:
            kept.append((name, value))
            continue
        if not value.isdigit():
            raise ValueError(f"{name} must be a whole number, not {value!r}")
        sizes[_POOL_PARAMETERS[name]] = int(value)
    if not sizes:
        return url, sizes  # untouched: no re-encoding surprises
    return urlunsplit(parts._replace(query=urlencode(kept))), sizes


def _rowcount(status: str) -> int:
    """asyncpg returns the command tag ("UPDATE 3"); the count is its last word."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


class PostgresTx(Tx):
    """Queries on one pooled connection (in a transaction for writes and snapshots)."""

    def __init__(self, conn: asyncpg.Connection, queries: Mapping[str, Query]) -> None:
        super().__init__(queries)
        self._conn = conn

    async def _execute(
        self, query: Query, params: Mapping[str, object], want_rows: bool
    ) -> tuple[list[Row], int]:
        *before, last = query.statements
        for statement in before:
            await self._conn.execute(statement.text, *statement.arguments(params))
        arguments = last.arguments(params)
        if want_rows:
            rows: list[Row] = [tuple(r) for r in await self._conn.fetch(last.text, *arguments)]
            return rows, len(rows)
        return [], _rowcount(await self._conn.execute(last.text, *arguments))


class PostgresConnector:
    """The driver over a PostgreSQL database. See the module docstring for concurrency."""

    capabilities = CAPABILITIES
    name = "PostgreSQL store"

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        min_size: int = 1,
        max_size: int = 10,
        command_timeout: float = 30.0,
    ) -> None:
        if min_size < 0 or max_size < 1 or min_size > max_size:
            raise ValueError("need 0 <= min_size <= max_size and max_size >= 1")
        if command_timeout <= 0:
            raise ValueError("command_timeout must be positive")
        self.url = url
        self.clock = clock
        self.min_size = min_size
        self.max_size = max_size
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None
        #: names this instance's notifications (``Wakeup.origin``) so it can skip them
        self._origin = uuid.uuid4().hex
        self._accepting = False
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._listeners: list[asyncpg.Connection] = []
        self._listen_tasks: list[asyncio.Task[None]] = []
        self._queries = load_queries("postgresql", FRAGMENTS)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Create the pool and run the migrations (under the migration advisory lock, so
        several instances starting at once upgrade the schema exactly once)."""
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                command_timeout=self.command_timeout,
            )
        except (*_DB_ERRORS, ValueError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                await migrate_async(conn, load_migrations("postgresql"), self.clock.now())
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, StoreError) or not isinstance(exc, Exception):
                raise
            raise StoreError(f"cannot migrate the PostgreSQL schema: {exc}") from exc
        self._pool = pool
        self._accepting = True

    async def close(self) -> None:
        """Stop taking work, let operations already running finish, stop the listeners and
        close the pool. Safe to call twice, or on a store that never opened."""
        self._accepting = False
        tasks, self._listen_tasks = self._listen_tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        listeners, self._listeners = self._listeners, []
        for conn in listeners:
            with contextlib.suppress(*_DB_ERRORS):
                await conn.close(timeout=5)
        await self._idle.wait()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.command_timeout)
            except TimeoutError:
                pool.terminate()

    def is_open(self) -> bool:
        return self._accepting

    async def ping(self) -> bool:
        if not self._accepting:
            return False
        try:
            return await self.read(answers)
        except StoreError:
            return False

    def when(self, value: Any) -> datetime:
        stored: datetime = value  # asyncpg reads TIMESTAMPTZ as an aware datetime
        return stored.astimezone(UTC)

    def notice(self, due: Sequence[tuple[str, str]]) -> str | None:
        """The NOTIFY payload for a commit, or None when nothing is to be woken. It names
        this instance, which woke itself in process and skips its own notification."""
        wakeup = Wakeup.for_recipients(due)
        if wakeup.empty:
            return None
        return encode(dataclasses.replace(wakeup, origin=self._origin))

    async def listen(self, callback: Callable[[Wakeup], None]) -> None:
        """Call ``callback`` whenever any instance commits newly due deliveries, with what
        to wake (the dispatcher for push, the recipients' streams for pull).

        Opens a dedicated connection outside the pool (a LISTENing connection must not be
        handed to other work) and returns once LISTEN is in effect, so nothing committed
        after this returns is missed. A failure to connect here is a StoreError; once
        listening, a dropped connection (server restart, failover, an administrator's
        ``pg_terminate_backend``) is re-established in the background with back-off, and
        ``callback`` is called with ``EVERYTHING`` once LISTEN is back, since notifications
        sent meanwhile are lost. ``close()`` stops it. Notifications stay a wake-up hint
        only: a dispatcher must still poll ``next_due``, a stream its heartbeat.
        """
        if not self._accepting:
            raise StoreError("the store is not open")
        conn = await self._listen_connection(callback)
        if not self.is_open():  # closed while we were connecting
            await conn.close()
            return
        self._listeners.append(conn)
        task = asyncio.create_task(self._keep_listening(conn, callback), name="zjx-listen")
        self._listen_tasks.append(task)

    async def _listen_connection(self, callback: Callable[[Wakeup], None]) -> asyncpg.Connection:
        """A fresh connection with LISTEN in effect, or StoreError."""

        def on_notify(_conn: object, _pid: object, _channel: object, payload: object) -> None:
            wakeup = decode(str(payload))
            if wakeup.origin != self._origin:  # this instance woke itself in process
                callback(wakeup)

        try:
            conn = await asyncpg.connect(self.url, command_timeout=self.command_timeout)
        except (*_DB_ERRORS, ValueError) as exc:
            raise StoreError(f"cannot open a LISTEN connection: {exc}") from exc
        try:
            await conn.add_listener(CHANNEL, on_notify)
        except BaseException as exc:
            conn.terminate()
            if isinstance(exc, _DB_ERRORS):
                raise StoreError(f"cannot LISTEN: {exc}") from exc
            raise
        return conn

    async def _keep_listening(
        self, conn: asyncpg.Connection, callback: Callable[[Wakeup], None]
    ) -> None:
        """Re-LISTEN whenever the connection drops, until the store closes."""
        while self.is_open():
            await self._until_lost(conn)
            with contextlib.suppress(ValueError):
                self._listeners.remove(conn)
            conn = await self._relisten(callback)
            self._listeners.append(conn)
            callback(EVERYTHING)  # whatever committed while we were deaf is due now

    async def _until_lost(self, conn: asyncpg.Connection) -> None:
        """Return once ``conn`` is closed. asyncpg reports a closed socket at once; a
        silently dead network path is caught by a periodic ``SELECT 1``."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        while not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), LISTEN_CHECK_SECONDS)
                return
            try:
                await conn.fetchval("SELECT 1", timeout=min(LISTEN_CHECK_SECONDS, 10.0))
            except _DB_ERRORS:
                conn.terminate()
                return

    async def _relisten(self, callback: Callable[[Wakeup], None]) -> asyncpg.Connection:
        """Reconnect and LISTEN again, backing off up to ``RELISTEN_MAX_DELAY`` seconds."""
        delay = RELISTEN_FIRST_DELAY
        while True:
            try:
                return await self._listen_connection(callback)
            except StoreError as exc:
                log.warning("postgres.listen_reconnect_failed", error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RELISTEN_MAX_DELAY)

    # ------------------------------------------------------------------ plumbing

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; database faults become StoreError, the caller's own
        exceptions (``build``, NotFoundError) pass through unchanged."""
        pool = self._pool
        if pool is None or not self._accepting:
            raise StoreError("the store is not open")
        self._active += 1
        self._idle.clear()
        try:
            async with pool.acquire() as conn:
                yield conn
        except _DB_ERRORS as exc:
            raise StoreError(f"database error: {exc}") from exc
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def _tx(self, **kwargs: Any) -> AsyncIterator[asyncpg.Connection]:
        async with self._conn() as conn, conn.transaction(**kwargs):
            yield conn

    async def read(self, script: Script[T], *, snapshot: bool = False) -> T:
        if snapshot:
            async with self._tx(isolation="repeatable_read", readonly=True) as conn:
                return await script(PostgresTx(conn, self._queries))
        async with self._conn() as conn:
            return await script(PostgresTx(conn, self._queries))

    async def write(self, script: Script[T]) -> T:
        async with self._tx() as conn:
            return await script(PostgresTx(conn, self._queries))


class PostgresStore(StoreCore[PostgresConnector]):
    """``Store`` over a PostgreSQL database: the core over ``PostgresConnector``."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        min_size: int = 1,
        max_size: int = 10,
        command_timeout: float = 30.0,
        protection: RecordProtection | None = None,
        digest: DigestName | None = None,
    ) -> None:
        connector = PostgresConnector(
            url,
            clock=clock,
            min_size=min_size,
            max_size=max_size,
            command_timeout=command_timeout,
        )
        super().__init__(connector, protection=protection, digest=digest)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock,
        protection: RecordProtection | None = None,
        digest: DigestName | None = None,
    ) -> PostgresStore:
        """A store configured by its URL alone: ``pool_min_size`` and ``pool_max_size`` query
        parameters size the pool and are removed before the URL reaches asyncpg (which would
        send unknown parameters to the server as settings). ValueError if they are bad."""
        dsn, pool = pool_options(url)
        return cls(dsn, clock=clock, protection=protection, digest=digest, **pool)
