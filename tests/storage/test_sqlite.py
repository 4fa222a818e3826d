"""SqliteStore against a real database file: acceptance, group commit, delivery states,
pull inboxes, the audit chain, retention and durability across reopening."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from gateway.audit.chain import GENESIS, entry_bytes, link
from gateway.clock import ManualClock
from gateway.problems import ConfigError, NotFoundError, StoreError
from gateway.storage.base import AcceptOutcome, DeliveryState, Store
from gateway.storage.factory import open_store, sqlite_path
from gateway.storage.sqlite import SqliteStore, from_micros, to_micros

from .conftest import START, AnyStore, default_build, event, request

PUSH = ("zj.hrss", "push")
PULL_B = ("zj.medicare", "pull")
PULL_C = ("zj.civil", "pull")


def test_store_satisfies_protocol(db_path: Path, clock: ManualClock) -> None:
    store: Store = SqliteStore(db_path, clock=clock)  # also checked by mypy
    assert store is not None


def test_datetime_round_trip_is_exact() -> None:
    when = datetime(2026, 7, 11, 8, 0, 0, 999999, tzinfo=UTC)
    assert from_micros(to_micros(when)) == when
    east8 = datetime(2026, 7, 11, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    assert from_micros(to_micros(east8)) == east8
    assert from_micros(to_micros(east8)).tzinfo is UTC
    with pytest.raises(ValueError):
        to_micros(datetime(2026, 7, 11))


def test_bad_synchronous_is_refused(db_path: Path, clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        SqliteStore(db_path, clock=clock, synchronous="FULL; DROP TABLE x")


@pytest.mark.sqlite_only("WAL journal mode")
async def test_pragmas(store: SqliteStore, db_path: Path) -> None:
    assert await store.ping()
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


# ---------------------------------------------------------------- acceptance


async def test_accept_and_dedup(store: AnyStore) -> None:
    calls: list[int] = []

    def build(seq: int) -> tuple[bytes, bytes]:
        calls.append(seq)
        return default_build(seq)

    first = await store.accept(request("e1", recipients=[PUSH, PULL_B], build=build))
    assert first.created
    assert first.record.seq == 1
    assert first.record.body == b'{"body":1}'
    assert first.record.accepted_at == START

    again = await store.accept(request("e1", recipients=[PUSH, PULL_B], build=build))
    assert not again.created
    assert again.record == first.record
    assert calls == [1]  # build is not called for a duplicate

    other_source = await store.accept(request("e1", source="zj.hospital.b"))
    assert other_source.created and other_source.record.seq == 2

    assert await store.find_message("zj.hospital.a", "e1") == first.record
    assert await store.get_message(1) == first.record
    assert await store.find_message("zj.hospital.a", "nope") is None
    assert await store.get_message(99) is None

    deliveries = {d.recipient: d for d in await store.deliveries_for(1)}
    assert deliveries["zj.hrss"].mode == "push"
    assert deliveries["zj.hrss"].state is DeliveryState.PENDING
    assert deliveries["zj.hrss"].attempts == 0
    assert deliveries["zj.hrss"].next_attempt_at == START
    assert deliveries["zj.hrss"].accepted_at == START
    assert deliveries["zj.medicare"].mode == "pull"
    assert deliveries["zj.medicare"].next_attempt_at is None

    audit = await store.audit_entries(0, 100)
    assert [a.event.action for a in audit] == ["message.accepted", "message.accepted"]


@pytest.mark.sqlite_only("group-commit counters (PostgreSQL: test_postgres.py)")
async def test_concurrent_accepts_are_gap_free_and_group_committed(store: SqliteStore) -> None:
    before = store.connector.commits
    outcomes = await asyncio.gather(*(store.accept(request(f"e{i}")) for i in range(200)))
    seqs = sorted(o.record.seq for o in outcomes)
    assert seqs == list(range(1, 201))
    assert all(o.created for o in outcomes)
    assert store.connector.commits - before < 200
    rows = await store.audit_rows(0, 1000)
    assert [r[0] for r in rows] == list(range(1, 201))


class Gate:
    """Holds the writer inside the first job's ``build`` so everything queued meanwhile is
    run as one batch: makes the group-commit tests deterministic."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def build(self, seq: int) -> tuple[bytes, bytes]:
        self.entered.set()
        self.release.wait(10)
        return default_build(seq)

    async def hold(self, store: SqliteStore) -> asyncio.Task[AcceptOutcome]:
        task = asyncio.create_task(store.accept(request("gate", build=self.build)))
        assert await asyncio.to_thread(self.entered.wait, 10)
        return task


@pytest.mark.sqlite_only("holds the single writer thread; gap-free numbering is SQLite's promise")
async def test_failing_build_fails_only_its_caller(store: SqliteStore) -> None:
    gate = Gate()
    held = await gate.hold(store)

    def broken(seq: int) -> tuple[bytes, bytes]:
        raise RuntimeError("signing key unavailable")

    tasks = [
        asyncio.create_task(
            store.accept(request(f"e{i}", build=broken if i == 3 else default_build))
        )
        for i in range(8)
    ]
    # A constraint violation (the same recipient twice) also fails only its caller.
    tasks.append(
        asyncio.create_task(store.accept(request("dup-recipient", recipients=[PUSH, PUSH])))
    )
    await asyncio.sleep(0.05)
    commits = store.connector.commits
    gate.release.set()
    await held
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[3], RuntimeError)
    assert isinstance(results[8], StoreError)
    ok = [r for r in results if isinstance(r, AcceptOutcome)]
    assert len(ok) == 7
    # The failed ones left no gap: 1 is the gate, then 2..8 for the seven good ones.
    assert sorted(r.record.seq for r in ok) == list(range(2, 9))
    assert store.connector.commits - commits <= 2  # the gate's batch plus one batch for the rest
    assert await store.find_message("zj.hospital.a", "e3") is None
    assert await store.deliveries_for(99) == []
    # Their audit entries vanished with them: the chain is contiguous.
    rows = await store.audit_rows(0, 100)
    assert [r[0] for r in rows] == list(range(1, 9))


@pytest.mark.sqlite_only("batches in the writer thread (PostgreSQL: test_postgres.py)")
async def test_same_event_twice_in_one_batch(store: SqliteStore) -> None:
    gate = Gate()
    held = await gate.hold(store)
    calls: list[int] = []

    def build(seq: int) -> tuple[bytes, bytes]:
        calls.append(seq)
        return default_build(seq)

    a = asyncio.create_task(store.accept(request("twin", build=build)))
    b = asyncio.create_task(store.accept(request("twin", build=build)))
    await asyncio.sleep(0.05)
    gate.release.set()
    await held
    first, second = await a, await b
    assert first.created and not second.created
    assert second.record == first.record
    assert calls == [first.record.seq]
    assert len(await store.deliveries_for(first.record.seq)) == 1


# ---------------------------------------------------------------- push delivery


async def test_claim_lease_and_reclaim_after_expiry(store: AnyStore, clock: ManualClock) -> None:
    await store.accept(request("e1"))
    await store.accept(request("e2", at=START + timedelta(seconds=1)))
    await store.accept(request("pull-only", recipients=[PULL_B]))
    assert await store.next_due(["zj.hrss"]) == START

    now = START + timedelta(seconds=2)
    claimed = await store.claim_due(now, "worker-a", 30, {"zj.hrss": 1})
    assert [(c.delivery.seq, c.delivery.recipient) for c in claimed] == [(1, "zj.hrss")]
    assert claimed[0].message.seq == 1
    assert claimed[0].message.body == b'{"body":1}'
    assert claimed[0].delivery.accepted_at == START

    # Leased: the next claim takes the other one only, then nothing.
    claimed = await store.claim_due(now, "worker-b", 30, {"zj.hrss": 10})
    assert [c.delivery.seq for c in claimed] == [2]
    assert await store.claim_due(now, "worker-b", 30, {"zj.hrss": 10}) == []
    assert await store.next_due(["zj.hrss"]) == START  # next_due ignores leases

    # worker-a crashed; its lease runs out and someone else claims the delivery.
    later = now + timedelta(seconds=30)
    claimed = await store.claim_due(later, "worker-c", 30, {"zj.hrss": 10})
    assert sorted(c.delivery.seq for c in claimed) == [1, 2]

    # Not yet due messages are not claimed.
    await store.accept(request("future", at=later + timedelta(minutes=5)))
    assert await store.claim_due(later + timedelta(seconds=10), "w", 30, {"zj.hrss": 10}) == []
    assert await store.claim_due(later, "w", 30, {"zj.hrss": 0}) == []


async def test_claims_per_recipient_renewed_and_released(store: AnyStore) -> None:
    """A claim takes per recipient at most its free count; a holder renews its leases and
    releases them (shutdown, or a restart under the same identity) without touching the
    deliveries (issue 12)."""
    for i in range(5):
        await store.accept(request(f"h{i}"))
        await store.accept(request(f"t{i}", recipients=[("zj.tax", "push")]))
    now = START + timedelta(seconds=1)
    claimed = await store.claim_due(now, "a", 30, {"zj.hrss": 2, "zj.tax": 1})
    assert sorted(c.delivery.recipient for c in claimed) == ["zj.hrss", "zj.hrss", "zj.tax"]
    assert await store.claim_due(now, "b", 30, {}) == []
    assert await store.next_due(["zj.tax"]) == START
    # renewed: still held after the first lease would have run out
    assert await store.renew_claims("a", now + timedelta(seconds=60)) == 3
    later = now + timedelta(seconds=45)
    rest = await store.claim_due(later, "b", 30, {"zj.hrss": 10, "zj.tax": 10})
    assert len(rest) == 7
    # released: due again at once, attempts untouched
    assert await store.release_claims("a") == 3
    again = await store.claim_due(later, "c", 30, {"zj.hrss": 10, "zj.tax": 10})
    assert len(again) == 3 and all(c.delivery.attempts == 0 for c in again)
    await store.release_claim(again[0].delivery.seq, again[0].delivery.recipient, "c")
    assert len(await store.claim_due(later, "d", 30, {"zj.hrss": 10, "zj.tax": 10})) == 1


async def test_gone_endpoint_is_kept_until_cleared(store: AnyStore) -> None:
    assert await store.gone_endpoints() == {}
    await store.mark_gone("zj.hrss", START, "HTTP 410", event("endpoint.gone"))
    await store.mark_gone("zj.hrss", START + timedelta(1), "HTTP 410", event("endpoint.gone"))
    gone = await store.gone_endpoints()
    assert list(gone) == ["zj.hrss"] and gone["zj.hrss"].at == START
    assert [e.event.action for e in await store.audit_entries(0, 10)] == ["endpoint.gone"]
    assert await store.clear_gone("zj.hrss") is True
    assert await store.clear_gone("zj.hrss") is False
    assert await store.gone_endpoints() == {}


async def test_counts_follow_every_transition(store: AnyStore) -> None:
    """Pending and dead per recipient are kept by the transitions themselves (issue 12: a
    scrape reads them instead of counting every row), and agree with the rows."""
    for i in range(4):
        await store.accept(request(f"c{i}", recipients=[PUSH, PULL_B]))
    await store.accept(request("c0", recipients=[PUSH, PULL_B]))  # a repeat counts nothing
    now = START + timedelta(seconds=1)
    await store.mark_delivered(1, "zj.hrss", now, None, event("delivery.delivered"))
    await store.mark_delivered(1, "zj.hrss", now, None, event("delivery.delivered"))
    await store.mark_dead(2, "zj.hrss", 3, "gave up", event("delivery.dead"))
    await store.mark_dead(3, "zj.hrss", 3, "gave up", event("delivery.dead"))
    await store.replay(2, "zj.hrss", now, event("delivery.replayed"))
    await store.discard(3, "zj.hrss", event("delivery.discarded"))
    await store.ack("zj.medicare", [1, 2, 99], now, event("inbox.acked"))
    stats = await store.stats(now)
    assert stats.pending_by_recipient == {"zj.hrss": 2, "zj.medicare": 2}
    assert stats.dead == 0
    assert stats.oldest_pending_by_recipient == {"zj.hrss": START, "zj.medicare": START}
    await store.mark_dead(4, "zj.hrss", 1, "gone", event("delivery.dead"))
    assert (await store.stats(now)).dead == 1


async def test_retry_dead_replay_discard(store: AnyStore) -> None:
    await store.accept(request("e1"))
    now = START
    await store.claim_due(now, "w", 30, {"zj.hrss": 10})

    retry_at = now + timedelta(seconds=10)
    await store.mark_retry(1, "zj.hrss", 1, retry_at, "HTTP 503")
    (d,) = await store.deliveries_for(1)
    assert (d.attempts, d.next_attempt_at, d.last_error) == (1, retry_at, "HTTP 503")
    assert await store.next_due(["zj.hrss"]) == retry_at
    assert await store.claim_due(now, "w", 30, {"zj.hrss": 10}) == []  # not due yet
    # mark_retry cleared the lease, so it is claimable as soon as it is due.
    assert len(await store.claim_due(retry_at, "w", 30, {"zj.hrss": 10})) == 1

    await store.mark_dead(1, "zj.hrss", 7, "gave up", event("delivery.dead", target="1"))
    (d,) = await store.deliveries_for(1)
    assert d.state is DeliveryState.DEAD and d.attempts == 7
    assert await store.next_due(["zj.hrss"]) is None
    assert [x.seq for x in await store.list_dead(None, 10)] == [1]
    assert [x.seq for x in await store.list_dead("zj.hrss", 10)] == [1]
    assert await store.list_dead("zj.other", 10) == []
    assert (await store.stats(now)).dead == 1

    replay_at = now + timedelta(hours=1)
    assert await store.replay(1, "zj.hrss", replay_at, event("delivery.replayed"))
    (d,) = await store.deliveries_for(1)
    assert (d.state, d.attempts, d.next_attempt_at) == (DeliveryState.PENDING, 0, replay_at)
    assert not await store.replay(1, "zj.hrss", replay_at, event("delivery.replayed"))

    await store.mark_dead(1, "zj.hrss", 3, "gave up again", event("delivery.dead"))
    assert await store.discard(1, "zj.hrss", event("delivery.discarded"))
    (d,) = await store.deliveries_for(1)
    assert d.state is DeliveryState.DISCARDED
    assert not await store.discard(1, "zj.hrss", event("delivery.discarded"))
    assert not await store.replay(1, "zj.hrss", replay_at, event("delivery.replayed"))

    actions = [a.event.action for a in await store.audit_entries(0, 100)]
    assert actions == [
        "message.accepted",
        "delivery.dead",
        "delivery.replayed",
        "delivery.dead",
        "delivery.discarded",
    ]

    with pytest.raises(NotFoundError):
        await store.mark_retry(1, "zj.nobody", 1, now, "x")


async def test_mark_delivered_clears_lease_and_keeps_receipt(store: AnyStore) -> None:
    await store.accept(request("e1", recipients=[PUSH, ("zj.tax", "push")]))
    await store.claim_due(START, "w", 30, {"zj.hrss": 10})
    at = START + timedelta(seconds=3)
    await store.mark_delivered(1, "zj.hrss", at, b"signed-receipt", event("delivery.delivered"))
    deliveries = {d.recipient: d for d in await store.deliveries_for(1)}
    assert deliveries["zj.hrss"].state is DeliveryState.DELIVERED
    assert deliveries["zj.hrss"].delivered_at == at
    assert deliveries["zj.hrss"].receipt == b"signed-receipt"
    assert deliveries["zj.tax"].state is DeliveryState.PENDING
    # A late dead-lettering of an already delivered delivery changes nothing.
    await store.mark_dead(1, "zj.hrss", 9, "late", event("delivery.dead"))
    assert {d.recipient: d for d in await store.deliveries_for(1)}[
        "zj.hrss"
    ].state is DeliveryState.DELIVERED
    actions = [a.event.action for a in await store.audit_entries(0, 100)]
    assert actions == ["message.accepted", "delivery.delivered"]


# ---------------------------------------------------------------- pull delivery


async def test_inbox_and_ack(store: AnyStore) -> None:
    await store.accept(request("e1", recipients=[PULL_B]))
    await store.accept(request("e2", recipients=[PULL_C]))
    await store.accept(request("e3", recipients=[PULL_B, PULL_C]))
    await store.accept(request("e4", recipients=[PUSH, PULL_B]))

    assert [m.seq for m in await store.inbox("zj.medicare", 0, 10)] == [1, 3, 4]
    assert [m.seq for m in await store.inbox("zj.medicare", 1, 10)] == [3, 4]
    assert [m.seq for m in await store.inbox("zj.medicare", 0, 2)] == [1, 3]
    assert [m.seq for m in await store.inbox("zj.civil", 0, 10)] == [2, 3]
    assert await store.inbox("zj.hrss", 0, 10) == []  # push recipients have no inbox

    # 2 belongs to zj.civil only, 99 does not exist: both ignored, nothing revealed.
    acked = await store.ack("zj.medicare", [1, 2, 3, 99], START, event("inbox.acked"))
    assert acked == 2
    assert [m.seq for m in await store.inbox("zj.medicare", 0, 10)] == [4]
    assert [m.seq for m in await store.inbox("zj.civil", 0, 10)] == [2, 3]
    d = {x.recipient: x for x in await store.deliveries_for(3)}
    assert d["zj.medicare"].state is DeliveryState.DELIVERED
    assert d["zj.medicare"].delivered_at == START
    assert d["zj.civil"].state is DeliveryState.PENDING

    # Acknowledging again, or someone else's, changes nothing and is not audited.
    assert await store.ack("zj.medicare", [1, 3], START, event("inbox.acked")) == 0
    assert await store.ack("zj.medicare", [2], START, event("inbox.acked")) == 0
    assert await store.ack("zj.medicare", [], START, event("inbox.acked")) == 0
    actions = [a.event.action for a in await store.audit_entries(0, 100)]
    assert actions.count("inbox.acked") == 1


async def test_inbox_page_is_bounded_in_bytes(store: AnyStore) -> None:
    """A page stops at ``max_bytes`` of bodies (issue 12: a stream held 500 large messages);
    a message larger than the bound alone still makes a page, so a reader always advances."""

    def sized(n: int) -> Callable[[int], tuple[bytes, bytes]]:
        return lambda seq: (b"x" * n, b"{}")

    for i, size in enumerate((400, 400, 400, 5000, 10)):
        await store.accept(request(f"b{i}", recipients=[PULL_B], build=sized(size)))
    pages = [
        [m.seq for m in await store.inbox("zj.medicare", after, 100, max_bytes=1000)]
        for after in (0, 3, 4)
    ]
    assert pages == [[1, 2], [4], [5]]
    assert [m.seq for m in await store.inbox("zj.medicare", 0, 100, max_bytes=1200)] == [1, 2, 3]
    assert [m.seq for m in await store.inbox("zj.medicare", 0, 100, max_bytes=1)] == [1]
    assert [m.seq for m in await store.inbox("zj.medicare", 0, 2, max_bytes=10**9)] == [1, 2]
    assert [m.seq for m in await store.inbox("zj.medicare", 0, 100)] == [1, 2, 3, 4, 5]


async def test_ack_many(store: AnyStore) -> None:
    await asyncio.gather(*(store.accept(request(f"e{i}", recipients=[PULL_B])) for i in range(700)))
    assert await store.ack("zj.medicare", list(range(1, 1001)), START, event("inbox.acked")) == 700


# ---------------------------------------------------------------- audit


async def test_audit_chain_recomputes_from_stored_bytes(store: AnyStore, db_path: Path) -> None:
    events = [event(f"config.changed.{i}", at=START + timedelta(seconds=i), n=i) for i in range(5)]
    records = [await store.append_audit(e) for e in events[:2]]
    await store.accept(request("e1"))
    records += [await store.append_audit(e) for e in events[2:]]
    assert [r.seq for r in records] == [1, 2, 4, 5, 6]

    rows = await store.audit_rows(0, 100)
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    prev = GENESIS
    for _seq, entry, prev_hash, digest in rows:
        assert prev_hash == prev
        assert link(prev_hash, entry) == digest
        prev = digest
    entries = await store.audit_entries(0, 100)
    assert entries[0].event == events[0]
    assert entries[0].hash == records[0].hash
    assert rows[0][1] == entry_bytes(1, events[0])
    assert [e.seq for e in await store.audit_entries(2, 2)] == [3, 4]

    if isinstance(store, SqliteStore):
        _tamper_sqlite(db_path, rows[1][1])
    else:
        await _tamper_postgres(store.connector.url, rows[1][1])
    rows = await store.audit_rows(0, 100)
    broken = [seq for seq, entry, prev_hash, digest in rows if link(prev_hash, entry) != digest]
    assert broken == [2]


def _tamper_sqlite(db_path: Path, entry: bytes) -> None:
    conn = sqlite3.connect(db_path)
    try:
        # The log is append-only for the gateway itself...
        with pytest.raises(sqlite3.DatabaseError):
            conn.execute("UPDATE audit_log SET entry = x'00' WHERE seq = 2")
        with pytest.raises(sqlite3.DatabaseError):
            conn.execute("DELETE FROM audit_log WHERE seq = 2")
        # ...and someone who bypasses that by changing one byte is caught by the chain.
        conn.execute("DROP TRIGGER audit_log_no_update")
        tampered = bytearray(entry)
        tampered[-2] ^= 0x01
        conn.execute("UPDATE audit_log SET entry = ? WHERE seq = 2", (bytes(tampered),))
        conn.commit()
    finally:
        conn.close()


async def _tamper_postgres(url: str, entry: bytes) -> None:
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.RaiseError):
            await conn.execute("UPDATE audit_log SET entry = '\\x00' WHERE seq = 2")
        with pytest.raises(asyncpg.RaiseError):
            await conn.execute("DELETE FROM audit_log WHERE seq = 2")
        with pytest.raises(asyncpg.RaiseError):
            await conn.execute("TRUNCATE audit_log")
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        tampered = bytearray(entry)
        tampered[-2] ^= 0x01
        await conn.execute("UPDATE audit_log SET entry = $1 WHERE seq = 2", bytes(tampered))
    finally:
        await conn.close()


# ---------------------------------------------------------------- operations


async def test_stats(store: AnyStore, clock: ManualClock) -> None:
    await store.accept(request("e1", recipients=[PUSH, PULL_B]))
    later = START + timedelta(minutes=1)
    await store.accept(request("e2", recipients=[PUSH], at=later))
    await store.mark_dead(2, "zj.hrss", 5, "x", event("delivery.dead"))
    stats = await store.stats(later)
    assert stats.pending_by_recipient == {"zj.hrss": 1, "zj.medicare": 1}
    assert stats.oldest_pending_by_recipient == {"zj.hrss": START, "zj.medicare": START}
    assert stats.dead == 1


async def test_purge(store: AnyStore) -> None:
    await store.accept(request("done", recipients=[PUSH, PULL_B]))  # 1: finished
    await store.accept(request("open", recipients=[PUSH]))  # 2: still pending
    await store.accept(request("gave-up", recipients=[PUSH]))  # 3: discarded
    new = START + timedelta(days=40)
    await store.accept(request("recent", recipients=[PUSH], at=new))  # 4: too recent
    await store.mark_delivered(1, "zj.hrss", START, None, event("delivery.delivered"))
    await store.ack("zj.medicare", [1], START, event("inbox.acked"))
    await store.mark_dead(3, "zj.hrss", 5, "x", event("delivery.dead"))
    await store.discard(3, "zj.hrss", event("delivery.discarded"))
    await store.mark_delivered(4, "zj.hrss", new, None, event("delivery.delivered"))
    audit_before = await store.audit_rows(0, 1000)

    assert await store.purge_delivered_before(START + timedelta(days=30)) == 2
    assert await store.get_message(1) is None
    assert await store.get_message(3) is None
    assert await store.deliveries_for(1) == []
    assert await store.get_message(2) is not None
    assert await store.get_message(4) is not None
    assert await store.audit_rows(0, 1000) == audit_before  # audit is never purged
    assert await store.purge_delivered_before(START + timedelta(days=30)) == 0

    # Everything purged: numbering still continues, never reusing a number.
    await store.mark_delivered(2, "zj.hrss", START, None, event("delivery.delivered"))
    assert await store.purge_delivered_before(new + timedelta(days=1)) == 2
    outcome = await store.accept(request("after-purge"))
    assert outcome.record.seq == 5
    # A retried submission of a purged message is accepted again (retention bounds dedup).
    again = await store.accept(request("done"))
    assert again.created and again.record.seq == 6


async def test_reopen_keeps_everything(make_store: Callable[[], AnyStore]) -> None:
    store = make_store()
    await store.open()
    first = await store.accept(request("e1", recipients=[PUSH, PULL_B]))
    await store.mark_retry(1, "zj.hrss", 2, START + timedelta(seconds=5), "timeout")
    await store.append_audit(event("config.changed"))
    rows_before = await store.audit_rows(0, 100)
    await store.close()
    assert not await store.ping()
    with pytest.raises(StoreError):
        await store.accept(request("closed"))

    reopened = make_store()
    await reopened.open()
    try:
        assert await reopened.get_message(1) == first.record
        d = {x.recipient: x for x in await reopened.deliveries_for(1)}
        assert d["zj.hrss"].attempts == 2 and d["zj.hrss"].last_error == "timeout"
        assert await reopened.audit_rows(0, 100) == rows_before
        dup = await reopened.accept(request("e1"))
        assert not dup.created and dup.record == first.record
        assert (await reopened.accept(request("e2"))).record.seq == 2
        rows = await reopened.audit_rows(0, 100)
        assert rows[-1][2] == rows_before[-1][3]  # the chain continues across restarts
    finally:
        await reopened.close()

    # The same object can be opened again too.
    await store.open()
    try:
        assert (await store.accept(request("e3"))).record.seq == 3
    finally:
        await store.close()


async def test_migrations_idempotent_on_reopen(db_path: Path, clock: ManualClock) -> None:
    for _ in range(3):
        store = SqliteStore(db_path, clock=clock)
        await store.open()
        await store.close()
        clock.advance(timedelta(hours=1))
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
    finally:
        conn.close()
    assert rows == [(v, START.isoformat()) for v in (1, 2, 3)]


async def test_close_completes_queued_work(make_store: Callable[[], AnyStore]) -> None:
    store = make_store()
    await store.open()
    tasks = [asyncio.create_task(store.accept(request(f"e{i}"))) for i in range(100)]
    await asyncio.sleep(0)  # let every task queue its job
    await store.close()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    assert all(isinstance(r, AcceptOutcome) for r in results)
    reopened = make_store()
    await reopened.open()
    try:
        assert (await reopened.get_message(100)) is not None
    finally:
        await reopened.close()


async def test_open_failure_is_a_store_error(tmp_path: Path, clock: ManualClock) -> None:
    (tmp_path / "not-a-db").write_bytes(b"this is not an sqlite file" * 100)
    store = SqliteStore(tmp_path / "not-a-db", clock=clock)
    with pytest.raises(StoreError):
        await store.open()
    with pytest.raises(StoreError):
        await store.accept(request("x"))
    await store.close()  # harmless


# ---------------------------------------------------------------- factory


def test_factory(tmp_path: Path, clock: ManualClock) -> None:
    s = open_store(tmp_path / "a.db", clock)
    assert isinstance(s, SqliteStore) and s.connector.path == tmp_path / "a.db"
    s = open_store(str(tmp_path / "b.db"), clock)
    assert isinstance(s, SqliteStore) and s.connector.path == tmp_path / "b.db"
    s = open_store(f"sqlite:///{tmp_path}/c.db?synchronous=normal", clock)
    assert isinstance(s, SqliteStore)
    assert s.connector.path == tmp_path / "c.db" and s.connector.synchronous == "NORMAL"
    assert sqlite_path("sqlite:///data/x.db")[0] == Path("data/x.db")
    assert sqlite_path("sqlite:////var/lib/x.db")[0] == Path("/var/lib/x.db")
    with pytest.raises(ConfigError):
        open_store("sqlite:///x.db?journal=off", clock)
    with pytest.raises(ConfigError):
        open_store("sqlite:///x.db?synchronous=sometimes", clock)
    with pytest.raises(ConfigError):
        open_store("mysql://db/x", clock)


async def test_locked_database_fails_the_batch_then_recovers(
    db_path: Path, clock: ManualClock
) -> None:
    store = SqliteStore(db_path, clock=clock, busy_timeout_ms=100)
    await store.open()
    try:
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            results = await asyncio.gather(
                *(store.accept(request(f"e{i}")) for i in range(5)), return_exceptions=True
            )
            assert all(isinstance(r, StoreError) for r in results)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await store.accept(request("e0"))).record.seq == 1  # no number was used up
        assert await store.ping()
    finally:
        await store.close()
