"""Fixtures for exchange tests: a real gateway on loopback and real receivers beside it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

REPO = Path(__file__).resolve().parents[2]
DIAGNOSIS = "cn.gov.zj.injury.medical_diagnosis.v1"


def example(name: str, index: int = 0) -> dict[str, Any]:
    """A valid example document kept beside the schemas."""
    files = sorted((REPO / "schemas" / "examples" / name / "valid").glob("*.json"))
    data: dict[str, Any] = json.loads(files[index].read_text(encoding="utf-8"))
    return data


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class FlakyEndpoint:
    """A recipient endpoint the test turns up and down; counts what it was sent."""

    def __init__(self) -> None:
        self.up = False
        self.status_when_down = 503
        self.calls = 0
        self.received: list[bytes] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/inbound", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.read()
        if not self.up:
            return web.Response(status=self.status_when_down)
        self.received.append(body)
        return web.json_response({"ok": True})
