"""Fixtures for the storage tests: a real SQLite file per test and a hand-driven clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.audit.chain import AuditEvent
from gateway.clock import ManualClock
from gateway.storage.base import AcceptRequest
from gateway.storage.sqlite import SqliteStore

START = datetime(2026, 7, 11, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gateway.db"


@pytest.fixture
async def store(db_path: Path, clock: ManualClock) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(db_path, clock=clock)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def event(action: str, at: datetime = START, target: str = "", **detail: object) -> AuditEvent:
    return AuditEvent(action=action, actor="gateway", at=at, target=target, detail=dict(detail))


def default_build(seq: int) -> tuple[bytes, bytes]:
    return (f'{{"body":{seq}}}'.encode(), f'{{"receipt":{seq}}}'.encode())


def request(
    event_id: str,
    *,
    source: str = "zj.hospital.a",
    recipients: Sequence[tuple[str, str]] = (("zj.hrss", "push"),),
    at: datetime = START,
    build: Callable[[int], tuple[bytes, bytes]] = default_build,
) -> AcceptRequest:
    return AcceptRequest(
        source=source,
        event_id=event_id,
        type="cn.gov.zj.injury.medical_diagnosis.v1",
        subject=None,
        payload_sha256="ab" * 32,
        accepted_at=at,
        recipients=list(recipients),
        build=build,
        audit=event("message.accepted", at=at, target=f"{source}/{event_id}"),
    )
