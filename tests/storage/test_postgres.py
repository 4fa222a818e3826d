"""PostgresStore specifics: several instances on one database (dedup, claiming, leases, the
audit chain, LISTEN/NOTIFY) and the migration runner under its advisory lock. The shared
behaviour is covered by running test_sqlite.py against both backends (see conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timedelta

import asyncpg
import pytest

from gateway.audit.chain import GENESIS, link
from gateway.clock import ManualClock
from gateway.delivery.wakeup import EVERYTHING, Wakeup
from gateway.problems import ConfigError, StoreError
from gateway.storage.base import AcceptOutcome, Store
from gateway.storage.factory import open_store
from gateway.storage.postgres import PostgresStore

from .conftest import START, default_build, event, request

PUSH = ("zj.hrss", "push")
PULL_B = ("zj.medicare", "pull")


@pytest.fixture
async def pair(
    pg_url: str, clock: ManualClock
) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two instances, as two gateway processes would be, on one database."""
    a = PostgresStore(pg_url, clock=clock, max_size=5)
    b = PostgresStore(pg_url, clock=clock, max_size=5)
    await asyncio.gather(a.open(), b.open())  # concurrent migration, serialised by the lock
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


def check_chain(rows: list[tuple[int, bytes, str, str]]) -> None:
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    prev = GENESIS
    for _seq, entry, prev_hash, digest in rows:
        assert prev_hash == prev
        assert link(prev_hash, entry) == digest
        prev = digest


def test_satisfies_protocol(clock: ManualClock) -> None:
    store: Store = PostgresStore("postgresql://x/y", clock=clock)  # also checked by mypy
    assert store is not None
    with pytest.raises(ValueError):
        PostgresStore("postgresql://x/y", clock=clock, min_size=5, max_size=2)
    with pytest.raises(ValueError):
        PostgresStore("postgresql://x/y", clock=clock, command_timeout=0)


def test_factory_picks_postgres(clock: ManualClock) -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db"):
        s = open_store(url, clock)
        assert isinstance(s, PostgresStore) and s.connector.url == url


async def test_unreachable_is_a_store_error(clock: ManualClock) -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/none", clock=clock)
    with pytest.raises(StoreError):
        await store.open()
    with pytest.raises(StoreError):
        await store.accept(request("x"))
    assert not await store.ping()
    await store.close()  # harmless


async def test_naive_datetimes_refused(pair: tuple[PostgresStore, PostgresStore]) -> None:
    a, _ = pair
    with pytest.raises(ValueError):
        await a.accept(request("e1", at=datetime(2026, 7, 11)))
    with pytest.raises(ValueError):
        await a.claim_due(datetime(2026, 7, 11), "w", 30, {"zj.hrss": 1})


async def test_migrations_once_under_lock(
    pair: tuple[PostgresStore, PostgresStore], pg_url: str, clock: ManualClock
) -> None:
    clock.advance(timedelta(hours=1))
    again = PostgresStore(pg_url, clock=clock)
    await again.open()
    await again.close()
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT version, applied_at FROM schema_migrations")
    finally:
        await conn.close()
    assert [(r[0], r[1]) for r in rows] == [(v, START) for v in (1, 2, 3, 4, 5)]


async def test_newer_schema_refused(pg_url: str, clock: ManualClock) -> None:
    store = PostgresStore(pg_url, clock=clock)
    await store.open()
    await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("INSERT INTO schema_migrations VALUES (999, now())")
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="newer"):
        await store.open()


async def test_concurrent_duplicate_from_two_instances(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pair
    for round_ in range(5):
        outcomes = await asyncio.gather(
            *(s.accept(request(f"twin-{round_}")) for _ in range(4) for s in (a, b))
        )
        created = [o for o in outcomes if o.created]
        assert len(created) == 1
        assert all(o.record == created[0].record for o in outcomes)
        assert len(await a.deliveries_for(created[0].record.seq)) == 1
    # One audit entry per stored message, nothing from the losers; the chain is intact.
    rows = await a.audit_rows(0, 100)
    assert len(rows) == 5
    check_chain(rows)


async def test_concurrent_accepts_and_audit_from_two_instances(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pair
    jobs: list[Awaitable[object]] = []
    for i in range(60):
        s = a if i % 2 else b
        jobs.append(s.accept(request(f"e{i}")))
        jobs.append(s.append_audit(event("config.changed", n=i)))
    results = await asyncio.gather(*jobs)
    seqs = [r.record.seq for r in results if isinstance(r, AcceptOutcome)]
    assert len(set(seqs)) == 60
    rows = await b.audit_rows(0, 1000)
    assert len(rows) == 120
    check_chain(rows)


async def test_failed_build_leaves_a_gap_but_no_audit_hole(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    a, _ = pair

    def broken(seq: int) -> tuple[bytes, bytes]:
        raise RuntimeError("signing key unavailable")

    assert (await a.accept(request("e1"))).record.seq == 1
    with pytest.raises(RuntimeError):
        await a.accept(request("e2", build=broken))
    assert (await a.accept(request("e3"))).record.seq == 3  # gaps are allowed on PostgreSQL
    assert await a.find_message("zj.hospital.a", "e2") is None
    check_chain(await a.audit_rows(0, 100))


async def test_two_instances_never_claim_the_same_delivery(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pair
    for i in range(60):
        await a.accept(request(f"e{i}", recipients=[PUSH, ("zj.tax", "push")]))
    now = START + timedelta(seconds=1)

    async def drain(store: PostgresStore, owner: str) -> list[tuple[int, str]]:
        got: list[tuple[int, str]] = []
        while True:
            claimed = await store.claim_due(now, owner, 60, {"zj.hrss": 7, "zj.tax": 7})
            if not claimed:
                return got
            got += [(c.delivery.seq, c.delivery.recipient) for c in claimed]

    results = await asyncio.gather(
        *(drain(s, f"{n}-{i}") for i in range(3) for n, s in (("a", a), ("b", b)))
    )
    every = [x for r in results for x in r]
    assert len(every) == len(set(every)) == 120


async def test_lease_expiry_lets_the_other_instance_take_over(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pair
    await a.accept(request("e1"))
    (claimed,) = await a.claim_due(START, "instance-a", 30, {"zj.hrss": 10})
    assert claimed.message.body == default_build(1)[0]
    assert await b.claim_due(START + timedelta(seconds=29), "instance-b", 30, {"zj.hrss": 10}) == []
    # instance-a died without reporting; its lease runs out.
    taken = await b.claim_due(START + timedelta(seconds=30), "instance-b", 30, {"zj.hrss": 10})
    assert [(c.delivery.seq, c.delivery.recipient) for c in taken] == [(1, "zj.hrss")]
    conn = await asyncpg.connect(b.connector.url)
    try:
        owner = await conn.fetchval("SELECT lease_owner FROM deliveries WHERE seq = 1")
    finally:
        await conn.close()
    assert owner == "instance-b"


async def test_listen_is_woken_by_another_instance(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pair
    woken = asyncio.Event()
    wakeups: list[Wakeup] = []

    def wake(wakeup: Wakeup) -> None:
        wakeups.append(wakeup)
        woken.set()

    async def next_wakeup() -> Wakeup:
        await asyncio.wait_for(woken.wait(), 5)
        woken.clear()
        return wakeups.pop(0)

    await b.listen(wake)
    # A pull-only message wakes the recipient's streams, not the dispatcher.
    await a.accept(request("pull-only", recipients=[PULL_B]))
    assert await next_wakeup() == Wakeup(False, ("zj.medicare",))
    await a.accept(request("push", recipients=[PUSH, PULL_B]))
    assert await next_wakeup() == Wakeup(True, ("zj.medicare",))

    # A duplicate stores nothing and wakes nobody; a replayed push delivery does.
    assert not (await a.accept(request("push"))).created
    await a.mark_dead(2, "zj.hrss", 5, "x", event("delivery.dead"))
    await asyncio.sleep(0.2)
    assert not woken.is_set()
    assert await a.replay(2, "zj.hrss", START, event("delivery.replayed"))
    assert await next_wakeup() == Wakeup(True, ())
    assert wakeups == []

    # close() stops listening.
    await b.close()
    await a.accept(request("push-2"))
    await asyncio.sleep(0.2)
    assert not woken.is_set()


async def test_notify_names_many_pull_recipients_as_every_stream(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    """A recipient list too long for a NOTIFY payload wakes every stream instead; the
    acceptance itself is unaffected (PostgreSQL would refuse a payload of 8000 bytes)."""
    a, b = pair
    woken: asyncio.Queue[Wakeup] = asyncio.Queue()
    await b.listen(woken.put_nowait)
    many = [(f"330784.unit.u{i:04d}", "pull") for i in range(400)]
    outcome = await a.accept(request("crowd", recipients=many))
    assert outcome.created
    assert await asyncio.wait_for(woken.get(), 5) == Wakeup(False, None)
    assert len(await a.deliveries_for(outcome.record.seq)) == 400


async def listening_backends(url: str) -> list[int]:
    """Server pids of the connections that have LISTENed (their last statement)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
    finally:
        await conn.close()
    return [int(r[0]) for r in rows]


async def test_listen_reconnects_after_its_connection_is_terminated(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pair
    woken = asyncio.Event()
    wakeups: list[Wakeup] = []

    def wake(wakeup: Wakeup) -> None:
        wakeups.append(wakeup)
        woken.set()

    await b.listen(wake)
    (before,) = await listening_backends(b.connector.url)
    conn = await asyncpg.connect(b.connector.url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", before)
    finally:
        await conn.close()
    # Back on LISTEN, the store wakes the dispatcher and every stream once (notifications
    # may have been lost meanwhile).
    await asyncio.wait_for(woken.wait(), 5)
    assert wakeups == [EVERYTHING]
    (after,) = await listening_backends(b.connector.url)
    assert after != before
    woken.clear()
    await a.accept(request("push-after-reconnect"))
    await asyncio.wait_for(woken.wait(), 5)
    await b.close()  # stops the reconnecting listener too
    assert await listening_backends(a.connector.url) == []


def test_pool_sizes_from_the_url(clock: ManualClock) -> None:
    s = open_store("postgresql://u@h/db?pool_min_size=2&pool_max_size=30&sslmode=disable", clock)
    assert isinstance(s, PostgresStore)
    assert (s.connector.min_size, s.connector.max_size) == (2, 30)
    assert s.connector.url == "postgresql://u@h/db?sslmode=disable"  # asyncpg never sees them
    default = open_store("postgresql://u@h/db", clock)
    assert isinstance(default, PostgresStore) and (
        default.connector.min_size,
        default.connector.max_size,
    ) == (1, 10)
    for bad in ("pool_max_size=x", "pool_max_size=0", "pool_min_size=5&pool_max_size=2"):
        with pytest.raises(ConfigError, match="storage URL"):
            open_store(f"postgresql://u@h/db?{bad}", clock)


async def test_pool_sized_by_the_url_opens(pg_url: str, clock: ManualClock) -> None:
    store = open_store(f"{pg_url}?pool_min_size=0&pool_max_size=2", clock)
    await store.open()
    try:
        outcomes = await asyncio.gather(*(store.accept(request(f"e{i}")) for i in range(6)))
        assert sorted(o.record.seq for o in outcomes) == list(range(1, 7))
    finally:
        await store.close()


async def test_a_token_is_claimed_once_across_instances(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    one, two = pair
    expires = START + timedelta(minutes=5)
    results = await asyncio.gather(
        one.claim_token("330784.zlb\x00jti-1", expires, START),
        two.claim_token("330784.zlb\x00jti-1", expires, START),
    )
    assert sorted(results) == [False, True]
    assert not await one.claim_token("330784.zlb\x00jti-1", expires, START + timedelta(minutes=4))
    # once the token would have expired anyway its use is forgotten
    assert await two.claim_token("330784.zlb\x00jti-1", expires, expires + timedelta(seconds=1))


async def test_an_instance_skips_its_own_notification(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    """The committing instance woke itself in process; its own NOTIFY would wake every one
    of its streams a second time for each message."""
    a, b = pair
    heard_by_a: asyncio.Queue[Wakeup] = asyncio.Queue()
    heard_by_b: asyncio.Queue[Wakeup] = asyncio.Queue()
    await a.listen(heard_by_a.put_nowait)
    await b.listen(heard_by_b.put_nowait)
    await a.accept(request("own", recipients=[PULL_B]))
    assert await asyncio.wait_for(heard_by_b.get(), 5) == Wakeup(False, ("zj.medicare",))
    await asyncio.sleep(0.2)
    assert heard_by_a.empty()
