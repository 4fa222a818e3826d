"""What a running gateway gives monitoring besides the counters: process metrics, the store
and audit-chain gauges, every configured department as a label of its own, and a log line
for every failed push attempt and every breaker change."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import structlog

from gateway.clock import ManualClock
from gateway.configuration import load_config
from gateway.testing import default_config, running_gateway
from tests.audit.test_sm3_end_to_end import _config_dir as sm3_config_dir
from tests.exchange.conftest import DIAGNOSIS, FlakyEndpoint, example, serve

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"


def _sample(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in the exposition")


async def test_process_store_and_audit_gauges(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        async with gw.session.get(f"{gw.base_url}/metrics") as response:
            text = await response.text()
        entries = await gw.store.audit_entries(0, 1000)
    assert _sample(text, "process_resident_memory_bytes") > 1_000_000
    assert _sample(text, "process_cpu_seconds_total") > 0
    assert _sample(text, "zjx_store_up") == 1
    assert _sample(text, "zjx_audit_chain_intact") == 1
    assert _sample(text, "zjx_audit_verified_entries") == len(entries) > 0
    for department in default_config().departments:
        assert _sample(text, f'zjx_breaker_open{{recipient="{department}"}}') == 0
    assert 'recipient="other"' not in text


async def test_the_chain_watch_follows_an_sm3_chain(tmp_path: Path, database: str | None) -> None:
    """Issue 17's SM3 chain (genesis ``sm3:0...``): each scrape verifies what is new, in SM3."""
    config = load_config(sm3_config_dir(tmp_path, "sm3"))
    async with running_gateway(tmp_path / "data", config=config, database=database) as gw:
        counts = []
        for _ in range(2):
            await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
            async with gw.session.get(f"{gw.base_url}/metrics") as response:
                text = await response.text()
            assert _sample(text, "zjx_audit_chain_intact") == 1
            counts.append(_sample(text, "zjx_audit_verified_entries"))
        rows = await gw.store.audit_rows(0, 1000)  # type: ignore[attr-defined]
    assert rows[-1][3].startswith("sm3:") and counts[0] < counts[1] == len(rows)


async def test_a_changed_audit_entry_sets_the_chain_gauge_to_zero(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gw:
        await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        with sqlite3.connect(tmp_path / "gateway.sqlite3") as conn:
            # someone with the file: the append-only trigger goes first, then the entry
            conn.execute("DROP TRIGGER audit_log_no_update")
            conn.execute("UPDATE audit_log SET entry = CAST(? AS BLOB) WHERE seq = 1", (b"{}",))
        with structlog.testing.capture_logs() as logs:
            async with gw.session.get(f"{gw.base_url}/metrics") as response:
                text = await response.text()
    assert _sample(text, "zjx_audit_chain_intact") == 0
    assert _sample(text, "zjx_audit_verified_entries") == 0
    (broken,) = [e for e in logs if e["event"] == "audit.chain_broken"]
    assert broken["entry"] == 1


async def test_failed_pushes_and_breaker_changes_are_logged(tmp_path: Path) -> None:
    """The dispatcher's log lines; the store does not matter here (SQLite)."""
    endpoint = FlakyEndpoint()
    clock = ManualClock()
    async with serve(endpoint.app()) as url:
        config = default_config(push={RECOGNITION: f"{url}/inbound"})
        async with running_gateway(
            tmp_path, config=config, clock=clock, run_dispatcher=False
        ) as gw:
            dispatcher = gw.dispatcher
            assert dispatcher is not None
            client = gw.client(HOSPITAL)
            for index in range(6):
                await client.submit(DIAGNOSIS, example("medical_diagnosis"), event_id=f"f-{index}")
            with structlog.testing.capture_logs() as logs:
                await dispatcher.run_once()
                endpoint.up = True
                clock.advance(timedelta(seconds=31))  # past the cooldown: one probe
                await dispatcher.run_once()
    failed = [e for e in logs if e["event"] == "delivery.attempt_failed"]
    assert len(failed) == endpoint.calls - len(endpoint.received) >= 5
    assert {(e["recipient"], e["status"], e["error"], e["attempt"]) for e in failed} == {
        (RECOGNITION, 503, "HTTP 503", 1)
    }
    assert len({e["seq"] for e in failed}) == len(failed)
    changes = [(e["before"], e["after"]) for e in logs if e["event"] == "delivery.breaker_changed"]
    assert changes == [("closed", "open"), ("half-open", "closed")]
