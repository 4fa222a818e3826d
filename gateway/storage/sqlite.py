"""The embedded SQLite store (WAL): what ``gateway serve`` uses with nothing else installed.

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

Times are stored as integer microseconds since the epoch (UTC), which round-trip exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson

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
from gateway.storage.migrate import load_migrations, migrate_sqlite

T = TypeVar("T")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SYNCHRONOUS: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_PURGE_CHUNK: Final = 1000  # keep each purge transaction short so accepts are not starved


def to_micros(when: datetime) -> int:
    """Aware datetime -> integer microseconds since the epoch. Naive datetimes are refused:
    guessing a zone is how retry schedules end up eight hours off."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("naive datetime given to the store; all times must be aware UTC")
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _opt_from_micros(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


# A pull recipient's page: at most ``limit`` messages and at most ``max_bytes`` of bodies
# (the first message whatever its size). The sizes come from the record headers
# (``length`` of a blob reads no overflow page) and are summed over seq and size alone; the
# bodies are read once, in index order, with nothing sorted that holds them.
_INBOX_PAGE = (
    "WITH head AS (SELECT d.seq, length(m.body) AS size FROM deliveries d"
    " JOIN messages m USING (seq)"
    " WHERE d.recipient = ? AND d.mode = 'pull' AND d.state = 'pending' AND d.seq > ?"
    " ORDER BY d.seq LIMIT ?),"
    " sized AS (SELECT seq, SUM(size) OVER (ORDER BY seq) AS upto,"
    " ROW_NUMBER() OVER (ORDER BY seq) AS n FROM head)"
    " SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256,"
    " m.accepted_at, m.body, m.receipt FROM deliveries d JOIN messages m USING (seq)"
    " WHERE d.recipient = ? AND d.mode = 'pull' AND d.state = 'pending' AND d.seq > ?"
    " AND d.seq <= (SELECT MAX(seq) FROM sized WHERE upto <= ? OR n = 1) ORDER BY d.seq"
)


# Due push deliveries of one recipient without a live lease, oldest first, with their
# messages (index deliveries_push_due).
_CLAIM_FOR = (
    "SELECT d.seq, d.recipient, d.mode, d.state, d.attempts, d.next_attempt_at,"
    " d.last_error, d.delivered_at, d.receipt, m.accepted_at,"
    " m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256,"
    " m.accepted_at, m.body, m.receipt"
    " FROM deliveries d JOIN messages m USING (seq)"
    " WHERE d.recipient = ? AND d.state = 'pending' AND d.mode = 'push'"
    " AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)"
    " ORDER BY d.next_attempt_at, d.seq LIMIT ?"
)


def _message(row: Sequence[Any]) -> MessageRecord:
    return MessageRecord(
        seq=row[0],
        source=row[1],
        event_id=row[2],
        type=row[3],
        subject=row[4],
        payload_sha256=row[5],
        accepted_at=from_micros(row[6]),
        body=bytes(row[7]),
        receipt=bytes(row[8]),
    )


def _delivery(row: Sequence[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        seq=row[0],
        recipient=row[1],
        mode=row[2],
        state=DeliveryState(row[3]),
        attempts=row[4],
        next_attempt_at=_opt_from_micros(row[5]),
        last_error=row[6],
        delivered_at=_opt_from_micros(row[7]),
        receipt=None if row[8] is None else bytes(row[8]),
        accepted_at=_opt_from_micros(row[9]),
    )


def event_from_entry(entry: bytes) -> AuditEvent:
    """Rebuild the event from its stored canonical bytes (the bytes are the truth)."""
    data = orjson.loads(entry)
    return AuditEvent(
        action=data["action"],
        actor=data["actor"],
        at=datetime.fromisoformat(data["at"]),
        target=data["target"],
        detail=data["detail"],
    )


def _append_audit(conn: sqlite3.Connection, event: AuditEvent) -> AuditRecord:
    """Chain ``event`` after the last entry. Runs inside the caller's transaction, so the
    entry commits or vanishes together with the change it records."""
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
    body = entry_bytes(seq, event)
    digest = link(prev_hash, body)
    conn.execute(
        "INSERT INTO audit_log (seq, entry, prev_hash, hash) VALUES (?, ?, ?, ?)",
        (seq, body, prev_hash, digest),
    )
    return AuditRecord(seq=seq, event=event, prev_hash=prev_hash, hash=digest)


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
    fn: Callable[[sqlite3.Connection], Any]
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


class SqliteStore:
    """``Store`` over one SQLite file. See the module docstring for the threading model."""

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
            return bool(await self._read(lambda c: c.execute("SELECT 1").fetchone()[0] == 1))
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
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = job.fn(conn)
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

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Queue ``fn`` for the writer; returns once its transaction has COMMITTED."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._submit_lock:
            if not self._accepting:
                raise StoreError("the store is not open")
            self._queue.put(_Job(fn, future, loop))
        return await future

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on a pooled read connection in a worker thread."""
        executor = self._read_executor
        if executor is None or not self._accepting:
            raise StoreError("the store is not open")

        def run() -> T:
            conn = self._read_pool.get()
            try:
                return fn(conn)
            except sqlite3.Error as exc:
                raise StoreError(f"database error: {exc}") from exc
            finally:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                self._read_pool.put(conn)

        return await asyncio.get_running_loop().run_in_executor(executor, run)

    # ------------------------------------------------------------------ acceptance

    async def accept(self, request: AcceptRequest) -> AcceptOutcome:
        """Store the message, its deliveries and its audit entry in one durable transaction,
        or return the original if (source, event_id) is already stored (``build`` is then
        not called). Concurrent callers share a commit (see the module docstring)."""
        accepted_at = to_micros(request.accepted_at)
        return await self._write(lambda conn: self._accept_in(conn, request, accepted_at))

    @staticmethod
    def _accept_in(
        conn: sqlite3.Connection, request: AcceptRequest, accepted_at: int
    ) -> AcceptOutcome:
        existing = conn.execute(
            "SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256,"
            " m.accepted_at,"
            " m.body, m.receipt FROM messages m WHERE m.source = ? AND m.event_id = ?",
            (request.source, request.event_id),
        ).fetchone()
        if existing is not None:
            # Also covers a duplicate earlier in the same batch: same connection, same
            # transaction, so its uncommitted row is visible here.
            return AcceptOutcome(record=_message(existing), created=False)
        row = conn.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'message_seq' RETURNING value"
        ).fetchall()  # fetch all: a half-stepped statement would block RELEASE
        seq = int(row[0][0])
        body, receipt = request.build(seq)
        conn.execute(
            "INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256,"
            " accepted_at, body, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                request.source,
                request.event_id,
                request.type,
                request.subject,
                request.payload_sha256,
                accepted_at,
                body,
                receipt,
            ),
        )
        conn.executemany(
            "INSERT INTO deliveries (seq, recipient, mode, state, attempts, next_attempt_at)"
            " VALUES (?, ?, ?, 'pending', 0, ?)",
            [
                (seq, recipient, mode, accepted_at if mode == "push" else None)
                for recipient, mode in request.recipients
            ],
        )
        _append_audit(conn, request.audit)
        record = MessageRecord(
            seq=seq,
            source=request.source,
            event_id=request.event_id,
            type=request.type,
            subject=request.subject,
            payload_sha256=request.payload_sha256,
            accepted_at=from_micros(accepted_at),
            body=bytes(body),
            receipt=bytes(receipt),
        )
        return AcceptOutcome(record=record, created=True)

    async def find_message(self, source: str, event_id: str) -> MessageRecord | None:
        def run(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(
                "SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256,"
                " m.accepted_at,"
                " m.body, m.receipt FROM messages m WHERE m.source = ? AND m.event_id = ?",
                (source, event_id),
            ).fetchone()
            return None if row is None else _message(row)

        return await self._read(run)

    async def get_message(self, seq: int) -> MessageRecord | None:
        def run(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(
                "SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256,"
                " m.accepted_at,"
                " m.body, m.receipt FROM messages m WHERE m.seq = ?",
                (seq,),
            ).fetchone()
            return None if row is None else _message(row)

        return await self._read(run)

    async def deliveries_for(self, seq: int) -> list[DeliveryRecord]:
        def run(conn: sqlite3.Connection) -> list[DeliveryRecord]:
            rows = conn.execute(
                "SELECT d.seq, d.recipient, d.mode, d.state, d.attempts, d.next_attempt_at,"
                " d.last_error,"
                " d.delivered_at, d.receipt, m.accepted_at"
                " FROM deliveries d JOIN messages m USING (seq)"
                " WHERE d.seq = ? ORDER BY d.recipient",
                (seq,),
            ).fetchall()
            return [_delivery(r) for r in rows]

        return await self._read(run)

    # ------------------------------------------------------------------ push delivery

    async def claim_due(
        self, now: datetime, owner: str, lease_seconds: float, capacity: Mapping[str, int]
    ) -> list[ClaimedDelivery]:
        """Lease, per recipient in ``capacity``, at most its count of due push deliveries,
        oldest first. A lease that has run out (its holder crashed) makes the delivery
        claimable again: at least once, never lost."""
        now_us = to_micros(now)
        until_us = to_micros(now + timedelta(seconds=lease_seconds))

        def run(conn: sqlite3.Connection) -> list[ClaimedDelivery]:
            rows: list[Any] = []
            for recipient, free in sorted(capacity.items()):
                rows += conn.execute(_CLAIM_FOR, (recipient, now_us, now_us, free)).fetchall()
            conn.executemany(
                "UPDATE deliveries SET lease_owner = ?, lease_until = ?"
                " WHERE seq = ? AND recipient = ?",
                [(owner, until_us, r[0], r[1]) for r in rows],
            )
            return [
                ClaimedDelivery(delivery=_delivery(r[:10]), message=_message(r[10:])) for r in rows
            ]

        if not any(free > 0 for free in capacity.values()):
            return []
        return await self._write(run)

    async def next_due(self, recipients: Collection[str]) -> datetime | None:
        wanted = orjson.dumps(sorted(recipients)).decode()

        def run(conn: sqlite3.Connection) -> datetime | None:
            row = conn.execute(
                "SELECT MIN(next_attempt_at) FROM deliveries"
                " WHERE state = 'pending' AND mode = 'push'"
                " AND recipient IN (SELECT value FROM json_each(?))",
                (wanted,),
            ).fetchone()
            return _opt_from_micros(row[0])

        return await self._read(run)

    async def renew_claims(self, owner: str, until: datetime) -> int:
        until_us = to_micros(until)

        def run(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE deliveries SET lease_until = ? WHERE lease_owner = ? AND state = 'pending'",
                (until_us, owner),
            ).rowcount

        return await self._write(run)

    async def release_claims(self, owner: str) -> int:
        def run(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = ? AND state = 'pending'",
                (owner,),
            ).rowcount

        return await self._write(run)

    async def release_claim(self, seq: int, recipient: str, owner: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL"
                " WHERE seq = ? AND recipient = ? AND lease_owner = ?",
                (seq, recipient, owner),
            )

        await self._write(run)

    async def gone_endpoints(self) -> dict[str, GoneEndpoint]:
        def run(conn: sqlite3.Connection) -> dict[str, GoneEndpoint]:
            rows = conn.execute("SELECT recipient, gone_at, reason FROM endpoint_state")
            return {r[0]: GoneEndpoint(from_micros(r[1]), r[2]) for r in rows}

        return await self._read(run)

    async def mark_gone(self, recipient: str, at: datetime, reason: str, audit: AuditEvent) -> None:
        at_us = to_micros(at)

        def run(conn: sqlite3.Connection) -> None:
            changed = conn.execute(
                "INSERT INTO endpoint_state (recipient, gone_at, reason) VALUES (?, ?, ?)"
                " ON CONFLICT (recipient) DO NOTHING",
                (recipient, at_us, reason),
            ).rowcount
            if changed:
                _append_audit(conn, audit)

        await self._write(run)

    async def clear_gone(self, recipient: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "DELETE FROM endpoint_state WHERE recipient = ?", (recipient,)
                ).rowcount
            )

        return await self._write(run)

    @staticmethod
    def _require(conn: sqlite3.Connection, seq: int, recipient: str) -> str:
        row = conn.execute(
            "SELECT state FROM deliveries WHERE seq = ? AND recipient = ?", (seq, recipient)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no delivery of message {seq} to {recipient}")
        return str(row[0])

    async def mark_delivered(
        self, seq: int, recipient: str, at: datetime, receipt: bytes | None, audit: AuditEvent
    ) -> None:
        """Record a successful delivery. The audit entry is written even when the delivery
        was no longer pending (a lease ran out and another worker delivered it too): the
        recipient did receive it again, and that is worth knowing."""
        at_us = to_micros(at)

        def run(conn: sqlite3.Connection) -> None:
            self._require(conn, seq, recipient)
            conn.execute(
                "UPDATE deliveries SET state = 'delivered', delivered_at = ?, receipt = ?,"
                " last_error = NULL, lease_owner = NULL, lease_until = NULL"
                " WHERE seq = ? AND recipient = ? AND state = 'pending'",
                (at_us, receipt, seq, recipient),
            )
            _append_audit(conn, audit)

        await self._write(run)

    async def mark_retry(
        self, seq: int, recipient: str, attempts: int, next_at: datetime, error: str
    ) -> None:
        """Schedule another attempt. Ignored if the delivery is no longer pending."""
        next_us = to_micros(next_at)

        def run(conn: sqlite3.Connection) -> None:
            self._require(conn, seq, recipient)
            conn.execute(
                "UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE seq = ? AND recipient = ? AND state = 'pending'",
                (attempts, next_us, error, seq, recipient),
            )

        await self._write(run)

    async def mark_dead(
        self, seq: int, recipient: str, attempts: int, error: str, audit: AuditEvent
    ) -> None:
        """Dead-letter a pending delivery (audited). Ignored, without audit, if it was no
        longer pending (delivered meanwhile by another worker)."""

        def run(conn: sqlite3.Connection) -> None:
            self._require(conn, seq, recipient)
            cur = conn.execute(
                "UPDATE deliveries SET state = 'dead', attempts = ?, last_error = ?,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE seq = ? AND recipient = ? AND state = 'pending'",
                (attempts, error, seq, recipient),
            )
            if cur.rowcount:
                _append_audit(conn, audit)

        await self._write(run)

    # ------------------------------------------------------------------ dead letters

    async def list_dead(self, recipient: str | None, limit: int) -> list[DeliveryRecord]:
        def run(conn: sqlite3.Connection) -> list[DeliveryRecord]:
            rows = conn.execute(
                "SELECT d.seq, d.recipient, d.mode, d.state, d.attempts, d.next_attempt_at,"
                " d.last_error, d.delivered_at, d.receipt, m.accepted_at"
                " FROM deliveries d JOIN messages m USING (seq)"
                " WHERE d.state = 'dead' AND (?1 IS NULL OR d.recipient = ?1)"
                " ORDER BY d.seq, d.recipient LIMIT ?2",
                (recipient, limit),
            ).fetchall()
            return [_delivery(r) for r in rows]

        return await self._read(run)

    async def replay(self, seq: int, recipient: str, now: datetime, audit: AuditEvent) -> bool:
        """Dead -> pending with a fresh attempt budget, due now (push) or back in the inbox
        (pull). False, and nothing audited, if the delivery was not dead."""
        now_us = to_micros(now)

        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0,"
                " next_attempt_at = CASE mode WHEN 'push' THEN ? ELSE NULL END,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE seq = ? AND recipient = ? AND state = 'dead'",
                (now_us, seq, recipient),
            )
            if not cur.rowcount:
                return False
            _append_audit(conn, audit)
            return True

        return await self._write(run)

    async def discard(self, seq: int, recipient: str, audit: AuditEvent) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE deliveries SET state = 'discarded', lease_owner = NULL,"
                " lease_until = NULL WHERE seq = ? AND recipient = ? AND state = 'dead'",
                (seq, recipient),
            )
            if not cur.rowcount:
                return False
            _append_audit(conn, audit)
            return True

        return await self._write(run)

    # ------------------------------------------------------------------ pull delivery

    async def inbox(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int = INBOX_BYTES
    ) -> list[MessageRecord]:
        def run(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(
                _INBOX_PAGE,
                (recipient, after_seq, limit, recipient, after_seq, max_bytes),
            ).fetchall()
            return [_message(r) for r in rows]

        return await self._read(run)

    async def ack(
        self, recipient: str, seqs: Sequence[int], at: datetime, audit: AuditEvent
    ) -> int:
        """Mark the recipient's pending pull deliveries among ``seqs`` delivered; returns how
        many changed. Other recipients' numbers are silently ignored so the count never
        reveals whether someone else's message exists. Audited only when something changed."""
        at_us = to_micros(at)
        wanted = sorted({int(s) for s in seqs})

        def run(conn: sqlite3.Connection) -> int:
            # The numbers travel as one JSON array parameter: no statement built from
            # input, and no limit on how many bound parameters one ack may carry.
            cur = conn.execute(
                "UPDATE deliveries SET state = 'delivered', delivered_at = ?"
                " WHERE recipient = ? AND mode = 'pull' AND state = 'pending'"
                " AND seq IN (SELECT value FROM json_each(?))",
                (at_us, recipient, orjson.dumps(wanted).decode()),
            )
            changed = int(cur.rowcount)
            if changed:
                _append_audit(conn, audit)
            return changed

        if not wanted:
            return 0
        return await self._write(run)

    # ------------------------------------------------------------------ audit

    async def append_audit(self, event: AuditEvent) -> AuditRecord:
        return await self._write(lambda conn: _append_audit(conn, event))

    async def audit_entries(self, after_seq: int, limit: int) -> list[AuditRecord]:
        rows = await self.audit_rows(after_seq, limit)
        return [
            AuditRecord(seq=seq, event=event_from_entry(entry), prev_hash=prev, hash=digest)
            for seq, entry, prev, digest in rows
        ]

    async def audit_rows(self, after_seq: int, limit: int) -> list[tuple[int, bytes, str, str]]:
        """Raw (seq, stored entry bytes, prev_hash, hash) for the verifier, which recomputes
        every link from the stored bytes rather than trusting any decoded form."""

        def run(conn: sqlite3.Connection) -> list[tuple[int, bytes, str, str]]:
            rows = conn.execute(
                "SELECT seq, entry, prev_hash, hash FROM audit_log WHERE seq > ?"
                " ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
            return [(int(r[0]), bytes(r[1]), str(r[2]), str(r[3])) for r in rows]

        return await self._read(run)

    # ------------------------------------------------------------------ operations

    async def stats(self, now: datetime) -> StoreStats:
        def run(conn: sqlite3.Connection) -> StoreStats:
            conn.execute("BEGIN")  # one snapshot for both queries
            stats = StoreStats()
            for recipient, count, oldest in conn.execute(
                "SELECT d.recipient, COUNT(*), MIN(m.accepted_at)"
                " FROM deliveries d JOIN messages m USING (seq)"
                " WHERE d.state = 'pending' GROUP BY d.recipient"
            ):
                stats.pending_by_recipient[recipient] = int(count)
                stats.oldest_pending_by_recipient[recipient] = from_micros(oldest)
            row = conn.execute("SELECT COUNT(*) FROM deliveries WHERE state = 'dead'").fetchone()
            stats.dead = int(row[0])
            conn.execute("COMMIT")
            return stats

        return await self._read(run)

    async def purge_delivered_before(self, before: datetime) -> int:
        """Retention: delete messages accepted before ``before`` whose every delivery is
        finished (delivered or discarded); their deliveries go by cascade. The audit log is
        never touched. Runs in short chunks so acceptances are not held up behind it."""
        before_us = to_micros(before)

        def run(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "DELETE FROM messages WHERE seq IN ("
                " SELECT m.seq FROM messages m WHERE m.accepted_at < ?"
                " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq"
                "  AND d.state NOT IN ('delivered', 'discarded'))"
                " ORDER BY m.accepted_at LIMIT ?)",
                (before_us, _PURGE_CHUNK),
            )
            return int(cur.rowcount)

        total = 0
        while True:
            removed = await self._write(run)
            total += removed
            if removed < _PURGE_CHUNK:
                return total

    # ------------------------------------------------------------------ cases

    async def get_case(self, case_id: str) -> CaseRecord | None:
        def run(conn: sqlite3.Connection) -> CaseRecord | None:
            row = conn.execute(f"{CASE_SELECT} WHERE case_id = ?", (case_id,)).fetchone()
            return None if row is None else case_from_row(row, from_micros)

        return await self._read(run)

    async def save_case(self, case: CaseRecord, audit: Sequence[AuditEvent]) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            values = (case.stage, case.status, case.version, case.state, case.case_id)
            if case.version == 1:
                cur = conn.execute(
                    "INSERT INTO cases (stage, status, version, state, case_id, opened_at,"
                    " deadline) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO NOTHING",
                    (*values, to_micros(case.opened_at), to_micros(case.deadline)),
                )
            else:
                cur = conn.execute(
                    "UPDATE cases SET stage = ?, status = ?, version = ?, state = ?"
                    " WHERE case_id = ? AND version = ?",
                    (*values, case.version - 1),
                )
            if cur.rowcount != 1:
                return False
            for event in audit:
                _append_audit(conn, event)
            return True

        return await self._write(run)

    async def open_cases(self, limit: int) -> list[CaseRecord]:
        def run(conn: sqlite3.Connection) -> list[CaseRecord]:
            rows = conn.execute(
                f"{CASE_SELECT} WHERE status = 'open' ORDER BY deadline LIMIT ?", (limit,)
            ).fetchall()
            return [case_from_row(r, from_micros) for r in rows]

        return await self._read(run)

    async def count_open_cases(self) -> dict[str, int]:
        def run(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute(
                "SELECT stage, COUNT(*) FROM cases WHERE status = 'open' GROUP BY stage"
            ).fetchall()
            return {str(stage): int(count) for stage, count in rows}

        return await self._read(run)

    async def messages_after(
        self, after_seq: int, since: datetime, limit: int
    ) -> list[MessageRecord]:
        def run(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(
                "SELECT m.seq, m.source, m.event_id, m.type, m.subject, m.payload_sha256,"
                " m.accepted_at, m.body, m.receipt FROM messages m"
                " WHERE m.seq > ? AND m.accepted_at >= ? ORDER BY m.seq LIMIT ?",
                (after_seq, to_micros(since), limit),
            ).fetchall()
            return [_message(r) for r in rows]

        return await self._read(run)
