"""The store, once: every operation of ``Store`` as a script of named queries, over a thin
driver (``Connector``) that only decides how a script runs (gateway.storage.connector).

What lives here and nowhere else: which rows each operation reads and changes, the state
transitions of a delivery (pending -> delivered | dead -> pending | discarded) and that each
is audited in the same transaction as the change it records, the audit chain's linking,
deduplication on (source, event id), the optimistic version checks of cases and of the
shared administration state, and what ``[crypto]`` asks of stored data: message bodies and
case states sealed on the way in and opened on the way out (``gateway.encryption``; the
record id is the associated data), and the audit chain's digest. What a driver adds:
SQLite's writer thread and group commit, PostgreSQL's pool, advisory lock, SKIP LOCKED and
LISTEN/NOTIFY (in its SQL and its module).

Every time passed in is checked to be aware (``ValueError`` otherwise) before anything is
queued or sent, so both stores refuse a naive datetime at the same point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from gateway.audit.chain import AuditEvent, digest_of, genesis
from gateway.encryption.protection import RecordProtection
from gateway.problems import ConfigError, NotFoundError, StoreError
from gateway.storage.base import (
    INBOX_BYTES,
    AcceptOutcome,
    AcceptRequest,
    AuditRecord,
    AuditRow,
    Capabilities,
    CaseRecord,
    ClaimedDelivery,
    DeliveryRecord,
    GoneEndpoint,
    MessageRecord,
    StoreStats,
    Unsupported,
)
from gateway.storage.connector import Connector, Tx
from gateway.storage.resealing import Resealing
from gateway.storage.rows import (
    Rows,
    audit_record,
    audit_row,
    aware,
    case_record_id,
    message_record_id,
    message_values,
    next_entry,
)
from gateway.trust.digests import DigestName

if TYPE_CHECKING:
    from gateway.delivery.wakeup import Wakeup

C = TypeVar("C", bound=Connector)

#: Messages purged per transaction: short, so acceptances are not held up behind retention.
PURGE_CHUNK: Final = 1000


class _LostRace(Exception):
    """Another instance stored the same (source, event id) between our look and our insert
    (PostgreSQL only: SQLite's single writer cannot race itself). Rolls the attempt back."""


async def _count(tx: Tx, recipient: str, *, pending: int = 0, dead: int = 0) -> None:
    """Keep ``delivery_counts`` in step with a state transition, in its transaction."""
    for state, n in (("pending", pending), ("dead", dead)):
        if n:
            await tx.run("count", recipient=recipient, state=state, n=n)


class StoreCore(Resealing, Generic[C]):
    """``Store`` over ``connector``. See the module docstring."""

    def __init__(
        self,
        connector: C,
        *,
        protection: RecordProtection | None = None,
        digest: DigestName | None = None,
    ) -> None:
        """``protection`` seals message bodies and case states on their way in and opens
        them on their way out (``[crypto] at_rest``); ``digest`` is the audit chain's
        (``[crypto] digest``): a new chain starts in it, and ``open`` refuses a store whose
        chain uses the other one. None (the audit tools): whatever the chain uses."""
        self.connector = connector
        self.protection = protection or RecordProtection()
        self._digest = digest
        self._genesis = genesis(digest or "sha256")
        self._rows = Rows(connector.when, self.protection)

    @property
    def capabilities(self) -> Capabilities:
        return self.connector.capabilities

    async def open(self) -> None:
        await self.connector.open()
        try:
            await self._check_chain_digest()
        except ConfigError:
            await self.connector.close()
            raise

    async def _check_chain_digest(self) -> None:
        """A chain never mixes digests: a store whose chain began in another digest than the
        configured one is refused, naming both (docs/decisions.md)."""
        if self._digest is None:
            return
        first = await self.audit_rows(0, 1)
        if first and (found := _chain_digest(first[0][2])) != self._digest:
            raise ConfigError(
                f"the audit chain in this store uses {found}, but [crypto] digest is "
                f'{self._digest!r}: a chain never mixes digests; set digest = "{found}" '
                "or start a new store"
            )

    async def close(self) -> None:
        await self.connector.close()

    async def ping(self) -> bool:
        return await self.connector.ping()

    # ------------------------------------------------------------------ audit chain

    async def _chain(self, tx: Tx, event: AuditEvent, head: Sequence[object] | None) -> AuditRecord:
        """Insert ``event`` after ``head`` (the chain's last ``seq, hash``, read under the
        driver's audit lock in this transaction), so the entry commits or vanishes together
        with the change it records."""
        seq, entry, prev_hash, digest = next_entry(head, event, self._genesis)
        await tx.run("insert_audit", seq=seq, entry=entry, prev_hash=prev_hash, hash=digest)
        return AuditRecord(seq=seq, event=event, prev_hash=prev_hash, hash=digest)

    async def _audit(self, tx: Tx, event: AuditEvent) -> AuditRecord:
        return await self._chain(tx, event, await tx.row("audit_head"))

    async def append_audit(self, event: AuditEvent) -> AuditRecord:
        return await self.connector.write(lambda tx: self._audit(tx, event))

    async def audit_rows(self, after_seq: int, limit: int) -> list[AuditRow]:
        """Raw (seq, stored entry bytes, prev_hash, hash) for the verifier, which recomputes
        every link from the stored bytes rather than trusting any decoded form."""

        async def run(tx: Tx) -> list[AuditRow]:
            return [audit_row(r) for r in await tx.rows("audit_rows", after=after_seq, limit=limit)]

        return await self.connector.read(run)

    async def audit_entries(self, after_seq: int, limit: int) -> list[AuditRecord]:
        return [audit_record(row) for row in await self.audit_rows(after_seq, limit)]

    # ------------------------------------------------------------------ acceptance

    async def accept(self, request: AcceptRequest) -> AcceptOutcome:
        """Store the message, its deliveries and its audit entry in one durable transaction,
        or return the original if (source, event_id) is already stored (``build`` is then
        not called, unless another instance stored it in between: see ``_LostRace``)."""
        aware(request.accepted_at)
        try:
            return await self.connector.write(lambda tx: self._accept_in(tx, request))
        except _LostRace:
            winner = await self.find_message(request.source, request.event_id)
            if winner is None:  # the winner was purged in between; vanishingly unlikely
                raise StoreError("concurrent duplicate vanished; retry the submission") from None
            return AcceptOutcome(record=winner, created=False)

    async def _accept_in(self, tx: Tx, request: AcceptRequest) -> AcceptOutcome:
        existing = await tx.row("find_message", source=request.source, event_id=request.event_id)
        if existing is not None:
            # Also a duplicate earlier in the same SQLite batch: same transaction, so its
            # uncommitted row is visible here.
            return AcceptOutcome(record=self._rows.message(existing), created=False)
        seq = int(await tx.value("next_message_seq"))
        body, receipt = request.build(seq)
        record = MessageRecord(
            seq=seq,
            source=request.source,
            event_id=request.event_id,
            type=request.type,
            subject=request.subject,
            payload_sha256=request.payload_sha256,
            accepted_at=request.accepted_at.astimezone(UTC),
            body=bytes(body),
            receipt=bytes(receipt),
        )
        head = await tx.row(
            "store_message",
            **(
                message_values(record)
                | {"body": self.protection.seal(record.body, message_record_id(seq))}
            ),
            recipients=[recipient for recipient, _ in request.recipients],
            modes=[mode for _, mode in request.recipients],
            wake=self.connector.notice(request.recipients),
        )
        if head is None:
            raise _LostRace
        await self._chain(tx, request.audit, head)
        return AcceptOutcome(record=record, created=True)

    async def _one_message(self, query: str, **params: object) -> MessageRecord | None:
        async def run(tx: Tx) -> MessageRecord | None:
            row = await tx.row(query, **params)
            return None if row is None else self._rows.message(row)

        return await self.connector.read(run)

    async def find_message(self, source: str, event_id: str) -> MessageRecord | None:
        return await self._one_message("find_message", source=source, event_id=event_id)

    async def get_message(self, seq: int) -> MessageRecord | None:
        return await self._one_message("get_message", seq=seq)

    async def deliveries_for(self, seq: int) -> list[DeliveryRecord]:
        async def run(tx: Tx) -> list[DeliveryRecord]:
            return [self._rows.delivery(r) for r in await tx.rows("deliveries_for", seq=seq)]

        return await self.connector.read(run)

    # ------------------------------------------------------------------ push delivery

    async def claim_due(
        self, now: datetime, owner: str, lease_seconds: float, capacity: Mapping[str, int]
    ) -> list[ClaimedDelivery]:
        """Lease, per recipient of ``capacity``, at most that many of its due push
        deliveries, oldest first (issue 12: a claim takes only what can start now). Rows
        another instance holds a live lease on are not due; a lease that has run out (its
        holder crashed) makes the delivery claimable again: at least once, never lost."""
        until = aware(now) + timedelta(seconds=lease_seconds)
        wanted = sorted((r, free) for r, free in capacity.items() if free > 0)

        async def run(tx: Tx) -> list[ClaimedDelivery]:
            rows: list[Sequence[object]] = []
            for recipient, free in wanted:
                rows += await tx.rows("claim_due", recipient=recipient, now=now, limit=free)
            if rows:
                seqs, recipients = [r[0] for r in rows], [r[1] for r in rows]
                await tx.run("lease", owner=owner, until=until, seqs=seqs, recipients=recipients)
            return [self._rows.claimed(r) for r in rows]

        if not wanted:
            return []
        return await self.connector.write(run)

    async def next_due(self, recipients: Collection[str]) -> datetime | None:
        wanted = sorted(recipients)

        async def run(tx: Tx) -> datetime | None:
            return self._rows.maybe_when(await tx.value("next_due", recipients=wanted))

        return await self.connector.read(run)

    async def renew_claims(self, owner: str, until: datetime) -> int:
        aware(until)
        return await self.connector.write(
            lambda tx: tx.run("renew_claims", owner=owner, until=until)
        )

    async def release_claims(self, owner: str) -> int:
        return await self.connector.write(lambda tx: tx.run("release_claims", owner=owner))

    async def release_claim(self, seq: int, recipient: str, owner: str) -> None:
        await self.connector.write(
            lambda tx: tx.run("release_claim", seq=seq, recipient=recipient, owner=owner)
        )

    @staticmethod
    async def _require(tx: Tx, seq: int, recipient: str) -> None:
        if await tx.value("delivery_state", seq=seq, recipient=recipient) is None:
            raise NotFoundError(f"no delivery of message {seq} to {recipient}")

    async def mark_delivered(
        self, seq: int, recipient: str, at: datetime, receipt: bytes | None, audit: AuditEvent
    ) -> None:
        """Record a successful delivery. The audit entry is written even when the delivery
        was no longer pending (a lease ran out and another worker delivered it too): the
        recipient did receive it again, and that is worth knowing."""
        aware(at)

        async def run(tx: Tx) -> None:
            await self._require(tx, seq, recipient)
            params = {"at": at, "receipt": receipt, "seq": seq, "recipient": recipient}
            changed = await tx.run("mark_delivered", **params)
            await self._audit(tx, audit)
            await _count(tx, recipient, pending=-changed)

        await self.connector.write(run)

    async def mark_retry(
        self, seq: int, recipient: str, attempts: int, next_at: datetime, error: str
    ) -> None:
        """Schedule another attempt. Ignored if the delivery is no longer pending."""
        aware(next_at)

        async def run(tx: Tx) -> None:
            await self._require(tx, seq, recipient)
            await tx.run(
                "mark_retry",
                attempts=attempts,
                next_at=next_at,
                error=error,
                seq=seq,
                recipient=recipient,
            )

        await self.connector.write(run)

    async def mark_dead(
        self, seq: int, recipient: str, attempts: int, error: str, audit: AuditEvent
    ) -> None:
        """Dead-letter a pending delivery (audited). Ignored, without audit, if it was no
        longer pending (delivered meanwhile by another worker)."""

        async def run(tx: Tx) -> None:
            await self._require(tx, seq, recipient)
            params = {"attempts": attempts, "error": error, "seq": seq, "recipient": recipient}
            if await tx.run("mark_dead", **params):
                await self._audit(tx, audit)
                await _count(tx, recipient, pending=-1, dead=1)

        await self.connector.write(run)

    # ------------------------------------------------------------------ dead letters

    async def list_dead(self, recipient: str | None, limit: int) -> list[DeliveryRecord]:
        async def run(tx: Tx) -> list[DeliveryRecord]:
            rows = await tx.rows("list_dead", recipient=recipient, limit=limit)
            return [self._rows.delivery(r) for r in rows]

        return await self.connector.read(run)

    async def replay(self, seq: int, recipient: str, now: datetime, audit: AuditEvent) -> bool:
        """Dead -> pending with a fresh attempt budget, due now (push) or back in the inbox
        (pull), and the other instances told. False, and nothing audited, if it was not
        dead."""
        aware(now)

        async def run(tx: Tx) -> bool:
            mode = await tx.value("replay", now=now, seq=seq, recipient=recipient)
            if mode is None:
                return False
            wake = self.connector.notice([(recipient, str(mode))])
            if wake is not None:
                await tx.run("notify", wake=wake)
            await self._audit(tx, audit)
            await _count(tx, recipient, pending=1, dead=-1)
            return True

        return await self.connector.write(run)

    async def discard(self, seq: int, recipient: str, audit: AuditEvent) -> bool:
        """Dead -> discarded (audited); False if it was not dead."""

        async def run(tx: Tx) -> bool:
            if not await tx.run("discard", seq=seq, recipient=recipient):
                return False
            await self._audit(tx, audit)
            await _count(tx, recipient, dead=-1)
            return True

        return await self.connector.write(run)

    # ------------------------------------------------------------------ pull delivery

    async def inbox(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int = INBOX_BYTES
    ) -> list[MessageRecord]:
        params = {"recipient": recipient, "after": after_seq, "limit": limit}

        async def run(tx: Tx) -> list[MessageRecord]:
            rows = await tx.rows("inbox", **params, max_bytes=max_bytes)
            return [self._rows.message(r) for r in rows]

        return await self.connector.read(run)

    async def ack(
        self, recipient: str, seqs: Sequence[int], at: datetime, audit: AuditEvent
    ) -> int:
        """Mark the recipient's pending pull deliveries among ``seqs`` delivered; returns how
        many changed. Other recipients' numbers are silently ignored so the count never
        reveals whether someone else's message exists. Audited only when something changed."""
        aware(at)
        wanted = sorted({int(s) for s in seqs})

        async def run(tx: Tx) -> int:
            changed = await tx.run("ack", at=at, recipient=recipient, seqs=wanted)
            if changed:
                await self._audit(tx, audit)
                await _count(tx, recipient, pending=-changed)
            return changed

        if not wanted:
            return 0
        return await self.connector.write(run)

    # ------------------------------------------------------------------ operations

    async def stats(self, now: datetime) -> StoreStats:
        """From the kept counts, and one index step per recipient with pending deliveries for
        the oldest's age: the same cost at a million pending as at a thousand."""

        async def run(tx: Tx) -> StoreStats:
            stats = StoreStats()
            for recipient, state, n in await tx.rows("delivery_counts"):
                if state == "dead":
                    stats.dead += int(n)
                    continue
                stats.pending_by_recipient[str(recipient)] = int(n)
                oldest = await tx.value("oldest_pending", recipient=recipient)
                if oldest is not None:
                    stats.oldest_pending_by_recipient[str(recipient)] = self._rows.when(oldest)
            return stats

        return await self.connector.read(run, snapshot=True)

    # ------------------------------------------------------------------ endpoints

    async def gone_endpoints(self) -> dict[str, GoneEndpoint]:
        async def run(tx: Tx) -> dict[str, GoneEndpoint]:
            rows = await tx.rows("gone_endpoints")
            return {str(r[0]): GoneEndpoint(self._rows.when(r[1]), str(r[2])) for r in rows}

        return await self.connector.read(run)

    async def mark_gone(self, recipient: str, at: datetime, reason: str, audit: AuditEvent) -> None:
        """Disable ``recipient``'s push endpoint (a 410), audited; kept as it was if it is
        already (the first 410's time stands)."""
        aware(at)

        async def run(tx: Tx) -> None:
            if await tx.run("mark_gone", recipient=recipient, at=at, reason=reason):
                await self._audit(tx, audit)

        await self.connector.write(run)

    async def clear_gone(self, recipient: str) -> bool:
        return bool(
            await self.connector.write(lambda tx: tx.run("clear_gone", recipient=recipient))
        )

    async def purge_delivered_before(self, before: datetime) -> int:
        """Retention: delete messages accepted before ``before`` whose every delivery is
        finished (delivered or discarded); their deliveries go by cascade. The audit log is
        never touched. Runs in chunks of ``PURGE_CHUNK`` so acceptances are not held up."""
        aware(before)

        async def run(tx: Tx) -> int:
            return await tx.run("purge", before=before, limit=PURGE_CHUNK)

        total = 0
        while True:
            removed = await self.connector.write(run)
            total += removed
            if removed < PURGE_CHUNK:
                return total

    # ------------------------------------------------------------------ cases

    async def get_case(self, case_id: str) -> CaseRecord | None:
        async def run(tx: Tx) -> CaseRecord | None:
            row = await tx.row("get_case", case_id=case_id)
            return None if row is None else self._rows.case(row)

        return await self.connector.read(run)

    async def save_case(self, case: CaseRecord, audit: Sequence[AuditEvent]) -> bool:
        """Insert (``case.version == 1``) or update over ``case.version - 1``, with
        ``audit`` in the same transaction; False when another writer got there first."""
        aware(case.opened_at)
        aware(case.deadline)
        fields: dict[str, object] = {"case_id": case.case_id, "stage": case.stage}
        state = self.protection.seal(case.state, case_record_id(case.case_id))
        fields |= {"status": case.status, "version": case.version, "state": state}

        async def run(tx: Tx) -> bool:
            if case.version == 1:
                times = {"opened_at": case.opened_at, "deadline": case.deadline}
                changed = await tx.run("insert_case", **fields, **times)
            else:
                changed = await tx.run("update_case", **fields, previous=case.version - 1)
            if changed != 1:
                return False
            for event in audit:
                await self._audit(tx, event)
            return True

        return await self.connector.write(run)

    async def open_cases(self, limit: int) -> list[CaseRecord]:
        async def run(tx: Tx) -> list[CaseRecord]:
            return [self._rows.case(r) for r in await tx.rows("open_cases", limit=limit)]

        return await self.connector.read(run)

    async def count_open_cases(self) -> dict[str, int]:
        async def run(tx: Tx) -> dict[str, int]:
            return {str(r[0]): int(r[1]) for r in await tx.rows("count_open_cases")}

        return await self.connector.read(run)

    async def closed_cases(self, opened_since: datetime, limit: int) -> list[CaseRecord]:
        """Closed cases opened at or after ``opened_since``, oldest first (statistics)."""
        aware(opened_since)

        async def run(tx: Tx) -> list[CaseRecord]:
            rows = await tx.rows("closed_cases", since=opened_since, limit=limit)
            return [self._rows.case(r) for r in rows]

        return await self.connector.read(run)

    async def messages_after(
        self, after_seq: int, since: datetime, limit: int
    ) -> list[MessageRecord]:
        """Messages numbered after ``after_seq`` accepted at or after ``since``, in sequence
        order, which is commit order on both stores."""
        aware(since)

        async def run(tx: Tx) -> list[MessageRecord]:
            rows = await tx.rows("messages_after", after=after_seq, since=since, limit=limit)
            return [self._rows.message(r) for r in rows]

        return await self.connector.read(run)

    # ------------------------------------------------------------------ capabilities

    def _needs(self, capability: str, declared: bool) -> None:
        if not declared:
            raise Unsupported(self.connector.name, capability)

    async def listen(self, callback: Callable[[Wakeup], None]) -> None:
        """``Store.listen``: the driver's notification channel."""
        await self.connector.listen(callback)

    async def claim_token(self, key: str, expires: datetime, now: datetime) -> bool:
        """Record a department token's use; False when any instance recorded it before (and
        it has not expired). Expired uses are cleared on the way. The key is stored hashed:
        a jti may hold any character (NUL is not valid in TEXT) and is the department's to
        choose; the table needs only equality."""
        self._needs("token_uses", self.capabilities.token_uses)
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        aware(expires)
        aware(now)

        async def run(tx: Tx) -> bool:
            await tx.run("forget_token_uses", now=now)
            return await tx.run("use_token", key=digest, expires=expires) == 1

        return await self.connector.write(run)

    async def admin_state(self) -> tuple[int, bytes] | None:
        """The shared administration overlay and its version, if any change was saved."""
        self._needs("shared_admin_state", self.capabilities.shared_admin_state)

        async def run(tx: Tx) -> tuple[int, bytes] | None:
            row = await tx.row("admin_state")
            return None if row is None else (int(row[0]), bytes(row[1]))

        return await self.connector.read(run)

    async def admin_state_version(self) -> int:
        self._needs("shared_admin_state", self.capabilities.shared_admin_state)

        async def run(tx: Tx) -> int:
            version = await tx.value("admin_state_version")
            return 0 if version is None else int(version)

        return await self.connector.read(run)

    async def save_admin_state(self, body: bytes, version: int) -> bool:
        """Save ``body`` as ``version`` over ``version - 1``; False when another instance
        saved first (the caller reloads and the administrator tries again)."""
        self._needs("shared_admin_state", self.capabilities.shared_admin_state)

        async def run(tx: Tx) -> bool:
            if version == 1:
                return await tx.run("insert_admin_state", version=version, body=body) == 1
            changed = await tx.run(
                "update_admin_state", version=version, body=body, previous=version - 1
            )
            return changed == 1

        return await self.connector.write(run)


def _chain_digest(first_prev_hash: str) -> str:
    try:
        return digest_of(first_prev_hash)
    except ValueError:
        return "an unknown digest"
