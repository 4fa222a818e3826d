"""Helpers for adapter tests: examples beside the schemas, samples beside the adapters, and a
recipient that pulls its inbox and verifies every message with the gateway's JWKS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.messages import CloudEvent, verify_all
from gateway.testing import GatewayHandle
from gateway.trust import KeyRegistry

REPO = Path(__file__).resolve().parents[2]
RECOGNITION = "330784.hrss.recognition"
BENEFITS = "330784.hrss.benefits"
HOSPITAL = "330784.health.h001"
MEDINSURANCE = "330784.medinsurance"


def example(name: str, file: str) -> dict[str, Any]:
    path = REPO / "schemas" / "examples" / name / "valid" / f"{file}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def sample(family: str, name: str) -> Path:
    return REPO / "adapters" / family / "samples" / name


async def pull_verified(gw: GatewayHandle, department: str) -> list[CloudEvent]:
    """Everything in ``department``'s inbox, each verified (origin and gateway signatures)."""
    client = gw.client(department)
    jwks = KeyRegistry.from_jwks(await client.jwks())
    page = await client.inbox()
    events = []
    for item in page["messages"]:
        body = orjson.dumps(item["message"])
        verified = verify_all(body, jwks, datetime.now(UTC), gateway_id=gw.gateway_id)
        assert department in verified.recipients
        events.append(verified.event)
    return events
