"""The PostgreSQL store (asyncpg): for several gateway instances sharing one database.

It mirrors ``SqliteStore`` behaviour for behaviour; what differs is how concurrency between
instances is handled, since there is no single writer thread to serialise everything:

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
  payload (``gateway.storage.wakeup``) says whether a push delivery is due and which pull
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
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import structlog

from gateway.audit.chain import GENESIS, AuditEvent, entry_bytes, link
from gateway.clock import Clock
from gateway.problems import NotFoundError, StoreError
from gateway.storage.base import (
    CASE_SELECT,
    INBOX_BYTES,
    AcceptOutcome,
    AcceptRequest,
    AuditRecord,
    CaseRecord,
    ClaimedDelivery,
    DeliveryRecord,
    DeliveryState,
    GoneEndpoint,
    MessageRecord,
    StoreStats,
    case_from_row,
)
from gateway.storage.migrate import load_migrations, migrate_async
from gateway.storage.sqlite import event_from_entry
from gateway.storage.wakeup import EVERYTHING, Wakeup, decode, encode

T = TypeVar("T")
log = structlog.get_logger("gateway.storage")

#: The channel delivery notifications (push and pull) travel on.
CHANNEL: Final = "zjx_deliveries"
#: The transaction-level advisory lock key serialising appends to the audit chain.
AUDIT_LOCK_KEY: Final = 0x7A6A_7861  # "zjxa"
_PURGE_CHUNK: Final = 1000
#: URL query parameters that size the connection pool (docs/operations.md).
_POOL_PARAMETERS: Final = {"pool_min_size": "min_size", "pool_max_size": "max_size"}
#: How often an idle LISTEN connection is probed (a dead network path sends no FIN).
LISTEN_CHECK_SECONDS: Final = 30.0
#: Back-off between attempts to re-establish a dropped LISTEN connection.
RELISTEN_FIRST_DELAY: Final = 0.2
RELISTEN_MAX_DELAY: Final = 10.0

_FIND_MESSAGE: Final = (
    "SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256, m.accepted_at,"
    " m.body, m.receipt"
    " FROM messages m WHERE m.source = $1 AND m.event_id = $2"
)
_GET_MESSAGE: Final = (
    "SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256, m.accepted_at,"
    " m.body, m.receipt"
    " FROM messages m WHERE m.seq = $1"
)
_DELIVERIES_FOR: Final = (
    "SELECT d.seq, d.recipient, d.mode, d.state, d.attempts, d.next_attempt_at, d.last_error,"
    " d.delivered_at, d.receipt, m.accepted_at"
    " FROM deliveries d JOIN messages m USING (seq) WHERE d.seq = $1 ORDER BY d.recipient"
)
_CLAIM_FOR: Final = (
    "SELECT d.seq, d.recipient, d.mode, d.state, d.attempts, d.next_attempt_at,"
    " d.last_error, d.delivered_at, d.receipt, m.accepted_at,"
    " m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256,"
    " m.accepted_at, m.body, m.receipt"
    " FROM deliveries d JOIN messages m USING (seq)"
    " WHERE d.recipient = $1 AND d.state = 'pending' AND d.mode = 'push'"
    " AND d.next_attempt_at <= $2 AND (d.lease_until IS NULL OR d.lease_until <= $2)"
    " ORDER BY d.next_attempt_at, d.seq LIMIT $3"
    " FOR UPDATE OF d SKIP LOCKED"
)
_LIST_DEAD: Final = (
    "SELECT d.seq, d.recipient, d.mode, d.state, d.attempts, d.next_attempt_at, d.last_error,"
    " d.delivered_at, d.receipt, m.accepted_at"
    " FROM deliveries d JOIN messages m USING (seq)"
    " WHERE d.state = 'dead' AND ($1::text IS NULL OR d.recipient = $1::text)"
    " ORDER BY d.seq, d.recipient LIMIT $2"
)
# As SQLite's: sizes summed without the bodies (``length`` of a TOASTed bytea reads its
# header only), then the page's bodies read once in index order.
_INBOX: Final = (
    "WITH head AS (SELECT d.seq, length(m.body) AS size FROM deliveries d"
    " JOIN messages m USING (seq)"
    " WHERE d.recipient = $1 AND d.mode = 'pull' AND d.state = 'pending' AND d.seq > $2"
    " ORDER BY d.seq LIMIT $3),"
    " sized AS (SELECT seq, SUM(size) OVER (ORDER BY seq) AS upto,"
    " ROW_NUMBER() OVER (ORDER BY seq) AS n FROM head)"
    " SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256, m.accepted_at,"
    " m.body, m.receipt FROM deliveries d JOIN messages m USING (seq)"
    " WHERE d.recipient = $1 AND d.mode = 'pull' AND d.state = 'pending' AND d.seq > $2"
    " AND d.seq <= (SELECT MAX(seq) FROM sized WHERE upto <= $4 OR n = 1) ORDER BY d.seq"
)

# The audit lock, then a message number, in one round trip. The MATERIALIZED CTE is an
# optimisation fence: the lock is taken before nextval runs, whatever the planner does.
_LOCK_AND_NUMBER: Final = (
    "WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock($1))"
    " SELECT nextval('message_seq') FROM locked"
)

# Message, deliveries and NOTIFY (payload $13; none if NULL) in one statement, returning
# the audit chain's head. Must run in a statement after the lock was taken: READ COMMITTED
# snapshots are per statement, and the head has to include the previous lock holder's entry.
# The deliveries' foreign key is checked at the end of the statement, when the CTE's message
# row is visible. No row back: (source, event_id) exists already (ON CONFLICT), nothing was
# written, and nothing is notified (pg_notify runs once per row returned).
_STORE_MESSAGE: Final = (
    "WITH m AS (INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256,"
    " accepted_at, body, receipt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    " ON CONFLICT (source, event_id) DO NOTHING RETURNING seq),"
    " r AS (SELECT * FROM unnest($10::text[], $11::text[]) AS r(recipient, mode)),"
    " d AS (INSERT INTO deliveries (seq, recipient, mode, state, attempts, next_attempt_at)"
    " SELECT m.seq, r.recipient, r.mode, 'pending', 0,"
    " CASE WHEN r.mode = 'push' THEN $7::timestamptz END FROM m, r)"
    " SELECT m.seq, h.seq, h.hash,"
    " CASE WHEN $13::text IS NOT NULL THEN pg_notify($12, $13::text) END"
    " FROM m LEFT JOIN (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) h ON true"
)

# A connection failure can surface as any of these rather than as a PostgresError.
_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("naive datetime given to the store; all times must be aware UTC")
    return when


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _opt_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _message(row: Sequence[Any]) -> MessageRecord:
    return MessageRecord(
        seq=int(row[0]),
        source=row[1],
        event_id=row[2],
        type=row[3],
        subject=row[4],
        payload_sha256=row[5],
        accepted_at=_utc(row[6]),
        body=bytes(row[7]),
        receipt=bytes(row[8]),
    )


def _delivery(row: Sequence[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        seq=int(row[0]),
        recipient=row[1],
        mode=row[2],
        state=DeliveryState(row[3]),
        attempts=int(row[4]),
        next_attempt_at=_opt_utc(row[5]),
        last_error=row[6],
        delivered_at=_opt_utc(row[7]),
        receipt=None if row[8] is None else bytes(row[8]),
        accepted_at=_opt_utc(row[9]),
    )


async def _append_audit(conn: asyncpg.Connection, event: AuditEvent) -> AuditRecord:
    """Chain ``event`` after the head, inside the caller's transaction. The advisory lock
    (released at commit or rollback) makes reading the head and appending atomic across
    every instance."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK_KEY)
    last = await conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    if last is None:
        return await _chain_after(conn, None, None, event)
    return await _chain_after(conn, int(last[0]), str(last[1]), event)


async def _chain_after(
    conn: asyncpg.Connection, head_seq: int | None, head_hash: str | None, event: AuditEvent
) -> AuditRecord:
    """Append ``event`` after the given chain head (None: the chain is empty). The caller
    holds the audit lock and read the head after taking it."""
    seq, prev_hash = (1, GENESIS) if head_seq is None else (head_seq + 1, str(head_hash))
    body = entry_bytes(seq, event)
    digest = link(prev_hash, body)
    await conn.execute(
        "INSERT INTO audit_log (seq, entry, prev_hash, hash) VALUES ($1, $2, $3, $4)",
        seq,
        body,
        prev_hash,
        digest,
    )
    return AuditRecord(seq=seq, event=event, prev_hash=prev_hash, hash=digest)


async def _require(conn: asyncpg.Connection, seq: int, recipient: str) -> str:
    state = await conn.fetchval(
        "SELECT state FROM deliveries WHERE seq = $1 AND recipient = $2", seq, recipient
    )
    if state is None:
        raise NotFoundError(f"no delivery of message {seq} to {recipient}")
    return str(state)


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


class PostgresStore:
    """``Store`` over a PostgreSQL database. See the module docstring for concurrency."""

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

    @classmethod
    def from_url(cls, url: str, *, clock: Clock) -> PostgresStore:
        """A store configured by its URL alone: ``pool_min_size`` and ``pool_max_size`` query
        parameters size the pool and are removed before the URL reaches asyncpg (which would
        send unknown parameters to the server as settings). ValueError if they are bad."""
        dsn, pool = pool_options(url)
        return cls(dsn, clock=clock, **pool)

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
            async with self._conn() as conn:
                return bool(await conn.fetchval("SELECT 1") == 1)
        except StoreError:
            return False

    def _payload(self, wakeup: Wakeup) -> str | None:
        """The NOTIFY payload for a commit, or None when nothing is to be woken."""
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

    # ------------------------------------------------------------------ acceptance

    async def accept(self, request: AcceptRequest) -> AcceptOutcome:
        """Store the message, its deliveries and its audit entry in one transaction, or
        return the original if (source, event_id) is already stored."""
        accepted_at = _aware(request.accepted_at)
        async with self._conn() as conn:
            existing = await conn.fetchrow(
                _FIND_MESSAGE,
                request.source,
                request.event_id,
            )
            if existing is not None:
                return AcceptOutcome(record=_message(existing), created=False)
            tx = conn.transaction()
            await tx.start()
            try:
                outcome = await self._accept_in(conn, request, accepted_at)
            except BaseException:
                await tx.rollback()
                raise
            if outcome.created:
                await tx.commit()
                return outcome
            await tx.rollback()
            # Lost the race: the winner has committed (ON CONFLICT waited for it).
            winner = await conn.fetchrow(
                _FIND_MESSAGE,
                request.source,
                request.event_id,
            )
            if winner is None:  # the winner was purged in between; vanishingly unlikely
                raise StoreError("concurrent duplicate vanished; retry the submission")
            return AcceptOutcome(record=_message(winner), created=False)

    async def _accept_in(
        self, conn: asyncpg.Connection, request: AcceptRequest, accepted_at: datetime
    ) -> AcceptOutcome:
        # Lock first, then number: sequence order = commit order (module docstring).
        seq = int(await conn.fetchval(_LOCK_AND_NUMBER, AUDIT_LOCK_KEY))
        body, receipt = request.build(seq)
        # One statement under the lock for message, deliveries, NOTIFY and the audit head:
        # every round trip here is time all instances wait (docs/decisions.md, "Storage").
        row = await conn.fetchrow(
            _STORE_MESSAGE,
            seq,
            request.source,
            request.event_id,
            request.type,
            request.subject,
            request.payload_sha256,
            accepted_at,
            body,
            receipt,
            [recipient for recipient, _ in request.recipients],
            [mode for _, mode in request.recipients],
            CHANNEL,
            self._payload(Wakeup.for_recipients(request.recipients)),
        )
        record = MessageRecord(
            seq=seq,
            source=request.source,
            event_id=request.event_id,
            type=request.type,
            subject=request.subject,
            payload_sha256=request.payload_sha256,
            accepted_at=_utc(accepted_at),
            body=bytes(body),
            receipt=bytes(receipt),
        )
        if row is None:  # (source, event_id) committed since our first look
            return AcceptOutcome(record=record, created=False)
        await _chain_after(conn, row[1], row[2], request.audit)
        return AcceptOutcome(record=record, created=True)

    async def find_message(self, source: str, event_id: str) -> MessageRecord | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                _FIND_MESSAGE,
                source,
                event_id,
            )
        return None if row is None else _message(row)

    async def get_message(self, seq: int) -> MessageRecord | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(_GET_MESSAGE, seq)
        return None if row is None else _message(row)

    async def deliveries_for(self, seq: int) -> list[DeliveryRecord]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                _DELIVERIES_FOR,
                seq,
            )
        return [_delivery(r) for r in rows]

    # ------------------------------------------------------------------ push delivery

    async def claim_due(
        self, now: datetime, owner: str, lease_seconds: float, capacity: Mapping[str, int]
    ) -> list[ClaimedDelivery]:
        """As ``SqliteStore.claim_due``; rows another instance is claiming right now are
        skipped (SKIP LOCKED), rows it holds a live lease on are not due."""
        now = _aware(now)
        until = now + timedelta(seconds=lease_seconds)
        if not any(free > 0 for free in capacity.values()):
            return []
        rows: list[Any] = []
        async with self._tx() as conn:
            for recipient, free in sorted(capacity.items()):
                rows += await conn.fetch(_CLAIM_FOR, recipient, now, free)
            if rows:
                await conn.execute(
                    "UPDATE deliveries SET lease_owner = $1, lease_until = $2"
                    " FROM unnest($3::bigint[], $4::text[]) AS c(seq, recipient)"
                    " WHERE deliveries.seq = c.seq AND deliveries.recipient = c.recipient",
                    owner,
                    until,
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                )
        return [
            ClaimedDelivery(delivery=_delivery(list(r)[:10]), message=_message(list(r)[10:]))
            for r in rows
        ]

    async def next_due(self, recipients: Collection[str]) -> datetime | None:
        async with self._conn() as conn:
            value = await conn.fetchval(
                "SELECT MIN(next_attempt_at) FROM deliveries"
                " WHERE state = 'pending' AND mode = 'push' AND recipient = ANY($1::text[])",
                sorted(recipients),
            )
        return _opt_utc(value)

    async def renew_claims(self, owner: str, until: datetime) -> int:
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE deliveries SET lease_until = $1"
                " WHERE lease_owner = $2 AND state = 'pending'",
                _aware(until),
                owner,
            )
        return _rowcount(status)

    async def release_claims(self, owner: str) -> int:
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = $1 AND state = 'pending'",
                owner,
            )
        return _rowcount(status)

    async def release_claim(self, seq: int, recipient: str, owner: str) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL"
                " WHERE seq = $1 AND recipient = $2 AND lease_owner = $3",
                seq,
                recipient,
                owner,
            )

    async def gone_endpoints(self) -> dict[str, GoneEndpoint]:
        async with self._conn() as conn:
            rows = await conn.fetch("SELECT recipient, gone_at, reason FROM endpoint_state")
        return {r[0]: GoneEndpoint(_utc(r[1]), r[2]) for r in rows}

    async def mark_gone(self, recipient: str, at: datetime, reason: str, audit: AuditEvent) -> None:
        async with self._tx() as conn:
            status = await conn.execute(
                "INSERT INTO endpoint_state (recipient, gone_at, reason) VALUES ($1, $2, $3)"
                " ON CONFLICT (recipient) DO NOTHING",
                recipient,
                _aware(at),
                reason,
            )
            if _rowcount(status):
                await _append_audit(conn, audit)

    async def clear_gone(self, recipient: str) -> bool:
        async with self._conn() as conn:
            status = await conn.execute(
                "DELETE FROM endpoint_state WHERE recipient = $1", recipient
            )
        return _rowcount(status) > 0

    async def mark_delivered(
        self, seq: int, recipient: str, at: datetime, receipt: bytes | None, audit: AuditEvent
    ) -> None:
        """Record a successful delivery; audited even if it was no longer pending (see
        ``SqliteStore.mark_delivered``)."""
        at = _aware(at)
        async with self._tx() as conn:
            await _require(conn, seq, recipient)
            await conn.execute(
                "UPDATE deliveries SET state = 'delivered', delivered_at = $1, receipt = $2,"
                " last_error = NULL, lease_owner = NULL, lease_until = NULL"
                " WHERE seq = $3 AND recipient = $4 AND state = 'pending'",
                at,
                receipt,
                seq,
                recipient,
            )
            await _append_audit(conn, audit)

    async def mark_retry(
        self, seq: int, recipient: str, attempts: int, next_at: datetime, error: str
    ) -> None:
        next_at = _aware(next_at)
        async with self._tx() as conn:
            await _require(conn, seq, recipient)
            await conn.execute(
                "UPDATE deliveries SET attempts = $1, next_attempt_at = $2, last_error = $3,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE seq = $4 AND recipient = $5 AND state = 'pending'",
                attempts,
                next_at,
                error,
                seq,
                recipient,
            )

    async def mark_dead(
        self, seq: int, recipient: str, attempts: int, error: str, audit: AuditEvent
    ) -> None:
        async with self._tx() as conn:
            await _require(conn, seq, recipient)
            status = await conn.execute(
                "UPDATE deliveries SET state = 'dead', attempts = $1, last_error = $2,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE seq = $3 AND recipient = $4 AND state = 'pending'",
                attempts,
                error,
                seq,
                recipient,
            )
            if _rowcount(status):
                await _append_audit(conn, audit)

    # ------------------------------------------------------------------ dead letters

    async def list_dead(self, recipient: str | None, limit: int) -> list[DeliveryRecord]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                _LIST_DEAD,
                recipient,
                limit,
            )
        return [_delivery(r) for r in rows]

    async def replay(self, seq: int, recipient: str, now: datetime, audit: AuditEvent) -> bool:
        now = _aware(now)
        async with self._tx() as conn:
            mode = await conn.fetchval(
                "UPDATE deliveries SET state = 'pending', attempts = 0,"
                " next_attempt_at = CASE mode WHEN 'push' THEN $1::timestamptz ELSE NULL END,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE seq = $2 AND recipient = $3 AND state = 'dead' RETURNING mode",
                now,
                seq,
                recipient,
            )
            if mode is None:
                return False
            payload = self._payload(Wakeup.for_recipients([(recipient, mode)]))
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            await _append_audit(conn, audit)
            return True

    async def discard(self, seq: int, recipient: str, audit: AuditEvent) -> bool:
        async with self._tx() as conn:
            status = await conn.execute(
                "UPDATE deliveries SET state = 'discarded', lease_owner = NULL,"
                " lease_until = NULL WHERE seq = $1 AND recipient = $2 AND state = 'dead'",
                seq,
                recipient,
            )
            if not _rowcount(status):
                return False
            await _append_audit(conn, audit)
            return True

    # ------------------------------------------------------------------ pull delivery

    async def inbox(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int = INBOX_BYTES
    ) -> list[MessageRecord]:
        async with self._conn() as conn:
            rows = await conn.fetch(_INBOX, recipient, after_seq, limit, max_bytes)
        return [_message(r) for r in rows]

    async def ack(
        self, recipient: str, seqs: Sequence[int], at: datetime, audit: AuditEvent
    ) -> int:
        """As ``SqliteStore.ack``: other recipients' numbers are silently ignored; audited
        only when something changed."""
        at = _aware(at)
        wanted = sorted({int(s) for s in seqs})
        if not wanted:
            return 0
        async with self._tx() as conn:
            status = await conn.execute(
                "UPDATE deliveries SET state = 'delivered', delivered_at = $1"
                " WHERE recipient = $2 AND mode = 'pull' AND state = 'pending'"
                " AND seq = ANY($3::bigint[])",
                at,
                recipient,
                wanted,
            )
            changed = _rowcount(status)
            if changed:
                await _append_audit(conn, audit)
            return changed

    # ------------------------------------------------------------------ audit

    async def append_audit(self, event: AuditEvent) -> AuditRecord:
        async with self._tx() as conn:
            return await _append_audit(conn, event)

    async def audit_entries(self, after_seq: int, limit: int) -> list[AuditRecord]:
        rows = await self.audit_rows(after_seq, limit)
        return [
            AuditRecord(seq=seq, event=event_from_entry(entry), prev_hash=prev, hash=digest)
            for seq, entry, prev, digest in rows
        ]

    async def audit_rows(self, after_seq: int, limit: int) -> list[tuple[int, bytes, str, str]]:
        """Raw (seq, stored entry bytes, prev_hash, hash) for the verifier."""
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT seq, entry, prev_hash, hash FROM audit_log WHERE seq > $1"
                " ORDER BY seq LIMIT $2",
                after_seq,
                limit,
            )
        return [(int(r[0]), bytes(r[1]), str(r[2]), str(r[3])) for r in rows]

    # ------------------------------------------------------------------ operations

    async def stats(self, now: datetime) -> StoreStats:
        stats = StoreStats()
        # One snapshot for both queries.
        async with self._tx(isolation="repeatable_read", readonly=True) as conn:
            for recipient, count, oldest in await conn.fetch(
                "SELECT d.recipient, COUNT(*), MIN(m.accepted_at)"
                " FROM deliveries d JOIN messages m USING (seq)"
                " WHERE d.state = 'pending' GROUP BY d.recipient"
            ):
                stats.pending_by_recipient[recipient] = int(count)
                stats.oldest_pending_by_recipient[recipient] = _utc(oldest)
            stats.dead = int(
                await conn.fetchval("SELECT COUNT(*) FROM deliveries WHERE state = 'dead'")
            )
        return stats

    async def purge_delivered_before(self, before: datetime) -> int:
        """Retention, as ``SqliteStore.purge_delivered_before``, in short chunks."""
        before = _aware(before)
        total = 0
        while True:
            async with self._tx() as conn:
                status = await conn.execute(
                    "DELETE FROM messages WHERE seq IN ("
                    " SELECT m.seq FROM messages m WHERE m.accepted_at < $1"
                    " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq"
                    "  AND d.state NOT IN ('delivered', 'discarded'))"
                    " ORDER BY m.accepted_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    before,
                    _PURGE_CHUNK,
                )
            removed = _rowcount(status)
            total += removed
            if removed < _PURGE_CHUNK:
                return total

    # ------------------------------------------------------------------ cases

    async def get_case(self, case_id: str) -> CaseRecord | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"{CASE_SELECT} WHERE case_id = $1", case_id)
        return None if row is None else case_from_row(row, _utc)

    async def save_case(self, case: CaseRecord, audit: Sequence[AuditEvent]) -> bool:
        """As ``SqliteStore.save_case``; the version check makes concurrent instances safe."""
        async with self._tx() as conn:
            if case.version == 1:
                status = await conn.execute(
                    "INSERT INTO cases (case_id, stage, status, version, state, opened_at,"
                    " deadline) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    " ON CONFLICT (case_id) DO NOTHING",
                    case.case_id,
                    case.stage,
                    case.status,
                    case.version,
                    case.state,
                    _aware(case.opened_at),
                    _aware(case.deadline),
                )
            else:
                status = await conn.execute(
                    "UPDATE cases SET stage = $2, status = $3, version = $4, state = $5"
                    " WHERE case_id = $1 AND version = $6",
                    case.case_id,
                    case.stage,
                    case.status,
                    case.version,
                    case.state,
                    case.version - 1,
                )
            if _rowcount(status) != 1:
                return False
            for event in audit:
                await _append_audit(conn, event)
            return True

    async def open_cases(self, limit: int) -> list[CaseRecord]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"{CASE_SELECT} WHERE status = 'open' ORDER BY deadline LIMIT $1", limit
            )
        return [case_from_row(r, _utc) for r in rows]

    async def count_open_cases(self) -> dict[str, int]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT stage, COUNT(*) FROM cases WHERE status = 'open' GROUP BY stage"
            )
        return {str(r[0]): int(r[1]) for r in rows}

    async def admin_state(self) -> tuple[int, bytes] | None:
        """The shared administration overlay and its version, if any change was saved."""
        async with self._conn() as conn:
            row = await conn.fetchrow("SELECT version, body FROM admin_state WHERE id = 1")
        return None if row is None else (int(row[0]), bytes(row[1]))

    async def admin_state_version(self) -> int:
        async with self._conn() as conn:
            version = await conn.fetchval("SELECT version FROM admin_state WHERE id = 1")
        return 0 if version is None else int(version)

    async def save_admin_state(self, body: bytes, version: int) -> bool:
        """Save ``body`` as ``version`` over ``version - 1``; False when another instance
        saved first (the caller reloads and the administrator tries again)."""
        async with self._tx() as conn:
            if version == 1:
                status = await conn.execute(
                    "INSERT INTO admin_state (id, version, body) VALUES (1, $1, $2)"
                    " ON CONFLICT (id) DO NOTHING",
                    version,
                    body,
                )
            else:
                status = await conn.execute(
                    "UPDATE admin_state SET version = $1, body = $2 WHERE id = 1 AND version = $3",
                    version,
                    body,
                    version - 1,
                )
        return _rowcount(status) == 1

    async def claim_token(self, key: str, expires: datetime, now: datetime) -> bool:
        """Record a department token's use; False when any instance recorded it before
        (and it has not expired). Expired uses are cleared on the way (indexed, so cheap)."""
        async with self._tx() as conn:
            await conn.execute("DELETE FROM token_uses WHERE expires_at <= $1", _aware(now))
            status = await conn.execute(
                "INSERT INTO token_uses (key, expires_at) VALUES ($1, $2)"
                " ON CONFLICT (key) DO NOTHING",
                # hashed: a jti may hold any character (NUL is not valid in TEXT) and is
                # the department's to choose; the table needs only equality
                hashlib.sha256(key.encode("utf-8")).hexdigest(),
                _aware(expires),
            )
        return _rowcount(status) == 1

    async def messages_after(
        self, after_seq: int, since: datetime, limit: int
    ) -> list[MessageRecord]:
        """In sequence order, which is commit order here (see ``accept``)."""
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256,"
                " m.accepted_at, m.body, m.receipt FROM messages m"
                " WHERE m.seq > $1 AND m.accepted_at >= $2 ORDER BY m.seq LIMIT $3",
                after_seq,
                _aware(since),
                limit,
            )
        return [_message(r) for r in rows]
