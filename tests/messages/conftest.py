"""Fixtures for message tests: department and gateway keys, a registry, a sample event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.messages import build_event
from gateway.trust import KeyRecord, KeyRegistry, SigningKey

NOW = datetime(2026, 7, 24, 9, 30, tzinfo=UTC)
GATEWAY = "330784.zjx"
HOSPITAL = "330784.health.h001"
POLICE = "330784.police.traffic"


def record(key: SigningKey, **kw: Any) -> KeyRecord:
    owner = key.kid.split("/")[0]
    kw.setdefault("not_before", NOW - timedelta(days=30))
    return KeyRecord(key.kid, owner, key.public_jwk(), **kw)


@pytest.fixture(scope="session")
def hospital_key() -> SigningKey:
    return SigningKey.generate(f"{HOSPITAL}/2026-01")


@pytest.fixture(scope="session")
def police_key() -> SigningKey:
    return SigningKey.generate(f"{POLICE}/2026-01", "ES256")


@pytest.fixture(scope="session")
def gateway_key() -> SigningKey:
    return SigningKey.generate(f"{GATEWAY}/gw-1")


@pytest.fixture
def registry(
    hospital_key: SigningKey, police_key: SigningKey, gateway_key: SigningKey
) -> KeyRegistry:
    return KeyRegistry([record(hospital_key), record(police_key), record(gateway_key)])


@pytest.fixture
def payload() -> bytes:
    return build_event(
        source=HOSPITAL,
        type="cn.gov.zj.injury.medical_diagnosis.v1",
        subject="case-2026-000123",
        time=NOW,
        data={"diagnosis": {"icd10": "S52.5", "text": "左桡骨远端骨折"}, "notes": "x" * 1600},
    )
