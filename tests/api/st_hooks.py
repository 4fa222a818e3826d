"""Schemathesis hooks (loaded by ``SCHEMATHESIS_HOOKS``): each request carries the token its
operation takes, made fresh: an admin bearer token for ``/admin/v1``, else a department
token (single use, so one per request) signed with the department's development key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis

from gateway.clock import SystemClock
from gateway.trust import SigningKey, issue_token

DATA = Path(os.environ.get("ZJX_ST_DATA_DIR", "data"))
DEPARTMENT = os.environ.get("ZJX_ST_DEPARTMENT", "330784.health.h001")
GATEWAY_ID = os.environ.get("ZJX_ST_GATEWAY_ID", "330000.exchange")


@schemathesis.auth(refresh_interval=None)
class GatewayTokens:
    def get(self, case: Any, context: Any) -> str:
        if context.operation.path.startswith("/admin/"):
            return (DATA / "admin-token").read_text(encoding="utf-8").strip()
        key = SigningKey.load(DATA / "dev-keys" / f"{DEPARTMENT}.jwk")
        return issue_token(key, GATEWAY_ID, clock=SystemClock())

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
