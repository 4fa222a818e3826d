"""Delivery state that survives and shows (issue 12, "What to build" 6), on both stores.

- A 410 disables the endpoint as stored department state: shown in the admin API and the
  metrics, still there after a restart, cleared by enable; what waited is delivered then,
  and so is a replay of the dead letter.
- A claim takes only what can start now: per recipient at most its free concurrency, one
  probe while its breaker is half-open, nothing while it is open or gone.
- Claims are released when a dispatcher stops and taken up again by its restart at once.
- An open breaker costs nothing per pending row: 50,000 pending, the process idle.
"""

from __future__ import annotations

import asyncio
import dataclasses
import resource
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from gateway.audit.chain import AuditEvent
from gateway.clock import ManualClock
from gateway.configuration.model import BreakerPolicy
from gateway.storage.base import AcceptRequest
from gateway.testing import GatewayHandle, default_config, running_gateway
from tests.exchange.conftest import DIAGNOSIS, FlakyEndpoint, example, serve

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"


def _admin(gw: GatewayHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {(gw.data_dir / 'admin-token').read_text().strip()}"}


async def _department(gw: GatewayHandle, dept: str) -> dict[str, Any]:
    async with gw.session.get(f"{gw.base_url}/admin/v1/departments", headers=_admin(gw)) as r:
        listed = (await r.json())["departments"]
    found: dict[str, Any] = next(d for d in listed if d["id"] == dept)
    return found


async def _gauge(gw: GatewayHandle, name: str, recipient: str) -> float:
    async with gw.session.get(f"{gw.base_url}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(f'{name}{{recipient="{recipient}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} for {recipient} not in /metrics")


async def _state(gw: GatewayHandle, seq: int) -> tuple[str, int]:
    found = {d.recipient: d for d in await gw.store.deliveries_for(seq)}[RECOGNITION]
    return str(found.state), found.attempts


async def test_a_410_is_kept_shown_and_cleared_by_enable(
    tmp_path: Path, database: str | None
) -> None:
    endpoint = FlakyEndpoint()
    endpoint.status_when_down = 410
    clock = ManualClock()
    async with serve(endpoint.app()) as url:
        config = default_config(push={RECOGNITION: f"{url}/inbound"})
        options: dict[str, Any] = {"config": config, "clock": clock, "database": database}
        async with running_gateway(tmp_path, run_dispatcher=False, **options) as gw:
            client = gw.client(HOSPITAL)
            first = (await client.submit(DIAGNOSIS, example("medical_diagnosis")))["sequence"]
            assert await gw.dispatcher.run_once() == 1
            assert await _state(gw, first) == ("dead", 1)
            shown = await _department(gw, RECOGNITION)
            assert shown["enabled"] is True
            assert shown["endpoint_gone"]["reason"] == "endpoint answered HTTP 410 Gone"
            assert await _gauge(gw, "zjx_endpoint_gone", RECOGNITION) == 1.0
            # what comes next waits, pending, unattempted: not dead-lettered at once
            second = (await client.submit(DIAGNOSIS, example("medical_diagnosis", 1)))["sequence"]
            assert await gw.dispatcher.run_once() == 0
            assert await _state(gw, second) == ("pending", 0)
        # a restart (a new process on the same store) still knows
        async with running_gateway(tmp_path, run_dispatcher=False, **options) as gw:
            assert await gw.dispatcher.run_once() == 0
            assert (await _department(gw, RECOGNITION))["endpoint_gone"] is not None
            endpoint.up = True
            enable = f"{gw.base_url}/admin/v1/departments/{RECOGNITION}/enable"
            async with gw.session.post(enable, headers=_admin(gw)) as response:
                assert response.status == 200
            assert (await _department(gw, RECOGNITION))["endpoint_gone"] is None
            assert await _gauge(gw, "zjx_endpoint_gone", RECOGNITION) == 0.0
            assert await gw.dispatcher.run_once() == 1
            assert (await _state(gw, second))[0] == "delivered"
            replay = f"{gw.base_url}/admin/v1/dead-letters/{first}/{RECOGNITION}/replay"
            async with gw.session.post(replay, headers=_admin(gw)) as response:
                assert response.status == 200
            assert await gw.dispatcher.run_once() == 1
            assert (await _state(gw, first))[0] == "delivered"
            assert len(endpoint.received) == 2


async def _backlog(gw: GatewayHandle, count: int, recipient: str = RECOGNITION) -> None:
    """``count`` push deliveries due now, put straight into the store."""
    now = gw.clock.now()
    for i in range(count):
        await gw.store.accept(
            AcceptRequest(
                source=HOSPITAL,
                event_id=f"due-{i}",
                type=DIAGNOSIS,
                subject=None,
                payload_sha256="ab" * 32,
                accepted_at=now,
                recipients=[(recipient, "push")],
                build=lambda seq: (b'{"body":%d}' % seq, b"{}"),
                audit=AuditEvent("message.accepted", "gateway", now, f"due-{i}", {}),
            )
        )


async def test_a_claim_takes_only_what_can_start_now(tmp_path: Path, database: str | None) -> None:
    clock = ManualClock()
    config = default_config(push={RECOGNITION: "http://127.0.0.1:9/inbound"})
    concurrency = config.departments[RECOGNITION].delivery.concurrency
    async with running_gateway(
        tmp_path, config=config, clock=clock, run_dispatcher=False, database=database
    ) as gw:
        await _backlog(gw, concurrency + 6)
        dispatcher = gw.dispatcher
        assert dispatcher.capacity(clock.now()) == {RECOGNITION: concurrency}
        claimed = await gw.store.claim_due(clock.now(), "me", 60, {RECOGNITION: 3})
        assert len(claimed) == 3
        dispatcher.in_flight[RECOGNITION] = concurrency - 1  # as if that many were pushing
        assert dispatcher.capacity(clock.now()) == {RECOGNITION: 1}
        # an open breaker: nothing is claimed, nothing rewritten
        dispatcher.in_flight.clear()
        breaker = dispatcher.breakers.get(RECOGNITION)
        for _ in range(dispatcher.breakers.policy.failures):
            breaker.failure(clock.now())
        assert dispatcher.capacity(clock.now()) == {}
        clock.advance(dispatcher.breakers.policy.cooldown)
        assert dispatcher.capacity(clock.now()) == {RECOGNITION: 1}  # one probe
        # released claims are due again at once, for anyone
        assert await gw.store.release_claims("me") == 3
        again = await gw.store.claim_due(clock.now(), "other", 60, {RECOGNITION: 100})
        assert len(again) == concurrency + 6


_BULK_SQLITE = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256, accepted_at,
    body, receipt)
SELECT :base + i, '330784.health.h001', 'bulk-' || i, :type, NULL, :sha, :now, X'7B7D', X'7B7D'
FROM n;
INSERT INTO deliveries (seq, recipient, mode, state, attempts, next_attempt_at)
SELECT seq, :recipient, 'push', 'pending', 0, :now FROM messages WHERE seq > :base;
INSERT INTO delivery_counts (recipient, state, n) VALUES (:recipient, 'pending', :count)
ON CONFLICT (recipient, state) DO UPDATE SET n = n + excluded.n;
UPDATE counters SET value = :base + :count WHERE name = 'message_seq';
"""

_BULK_POSTGRES = (
    "INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256, accepted_at,"
    " body, receipt) SELECT nextval('message_seq'), '330784.health.h001', 'bulk-' || i, $1,"
    " NULL, $2, now(), '\\x7b7d', '\\x7b7d' FROM generate_series(1, $3) i",
    "INSERT INTO deliveries (seq, recipient, mode, state, attempts, next_attempt_at)"
    " SELECT seq, $1, 'push', 'pending', 0, now() FROM messages WHERE event_id LIKE 'bulk-%'",
    "INSERT INTO delivery_counts (recipient, state, n) VALUES ($1, 'pending', $2)"
    " ON CONFLICT (recipient, state) DO UPDATE SET n = delivery_counts.n + excluded.n",
)


async def _bulk_pending(data_dir: Path, database: str | None, recipient: str, count: int) -> None:
    """``count`` push deliveries due now, written in a few statements beside the running
    gateway (as a backlog that built up while the recipient was down)."""
    if database is None:
        now = int(datetime.now(UTC).timestamp() * 1_000_000)
        with sqlite3.connect(data_dir / "gateway.sqlite3", timeout=30) as conn:
            base = conn.execute("SELECT value FROM counters WHERE name = 'message_seq'")
            params = {"count": count, "base": base.fetchone()[0], "type": DIAGNOSIS}
            params |= {"sha": "ab" * 32, "now": now, "recipient": recipient}
            for statement in _BULK_SQLITE.split(";"):
                if statement.strip():
                    conn.execute(statement, params)
        return
    conn = await asyncpg.connect(database)
    try:
        async with conn.transaction():
            await conn.execute(_BULK_POSTGRES[0], DIAGNOSIS, "ab" * 32, count)
            await conn.execute(_BULK_POSTGRES[1], recipient)
            await conn.execute(_BULK_POSTGRES[2], recipient, count)
    finally:
        await conn.close()


async def test_an_open_breaker_with_50000_pending_leaves_the_process_idle(
    tmp_path: Path, database: str | None
) -> None:
    endpoint = FlakyEndpoint()  # down: 503
    async with serve(endpoint.app()) as url:
        config = default_config(push={RECOGNITION: f"{url}/inbound"})
        config = dataclasses.replace(
            config, breaker=BreakerPolicy(failures=1, cooldown=timedelta(minutes=10))
        )
        async with running_gateway(
            tmp_path, config=config, database=database, poll_interval=0.05
        ) as gw:
            await _bulk_pending(tmp_path, database, RECOGNITION, 50_000)
            for _ in range(100):  # the first attempt fails and opens the breaker
                if endpoint.calls:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            calls = endpoint.calls
            before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
            await asyncio.sleep(2.0)
            after, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - started
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            assert endpoint.calls == calls, "an open breaker let attempts through"
            assert cpu < 0.1 * elapsed, (
                f"{cpu:.2f} s of CPU in {elapsed:.1f} s with the breaker open"
            )
            pending = await gw.store.stats(gw.clock.now())
            assert pending.pending_by_recipient[RECOGNITION] == 50_000
