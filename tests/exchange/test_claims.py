"""Claims that do not outlive what they are for (issue 12), with real ``gateway serve``
processes.

- Two instances on one PostgreSQL database and a recipient slower than the lease: every
  message is pushed exactly once (a claim takes only what can start now, and a running
  attempt renews its lease), where before 60 messages made 74 pushes.
- A restart, after SIGKILL and after SIGTERM, takes up the deliveries the old process had
  claimed within seconds, not after the lease (60 s here): the instance's identity is
  stable (host and port), its claims are released when it stops and at its next start.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.exchange.conftest import serve
from tests.exchange.processes import (
    HOSPITAL,
    free_port,
    gateway_process,
    layout,
    signed_messages,
    submit,
    wait_ready,
)

pytestmark = pytest.mark.slow


@dataclass
class Recipient:
    """A push endpoint that takes ``delay`` seconds to answer, holds every push while
    ``gate`` is closed, and records what it answered 200 to (a push whose sender went away
    meanwhile is not counted: nobody got that answer)."""

    delay: float = 0.0
    received: list[str] = field(default_factory=list)
    held: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/inbound", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        source, _, event_id = request.headers["webhook-id"].partition(":")
        assert source == HOSPITAL
        self.held += 1
        try:
            await self.gate.wait()
            await asyncio.sleep(self.delay)
        finally:
            self.held -= 1
        transport = request.transport
        if transport is None or transport.is_closing():
            return web.Response(status=503)
        self.received.append(event_id)
        return web.json_response({"ok": True})

    async def until(self, condition: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not eval(condition, {"self": self}):
            assert time.monotonic() < deadline, f"not reached in {seconds} s: {condition}"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def submitted(url: str, bodies: dict[str, bytes]) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        statuses = await asyncio.gather(*(submit(session, url, b) for b in bodies.values()))
    assert statuses == [202] * len(bodies)
    yield


async def test_two_instances_and_a_slow_recipient_push_each_message_once(
    tmp_path: Path, pg_url: str
) -> None:
    recipient = Recipient(delay=1.2)  # longer than the lease: only renewal keeps it
    lease = {"GATEWAY_LEASE_SECONDS": "0.8"}
    async with serve(recipient.app()) as receiver:
        data_dir, config_dir = layout(tmp_path, f"{receiver}/inbound")
        ports = (free_port(), free_port())
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        with gateway_process(data_dir, ports[0], config_dir=config_dir, database=pg_url, env=lease):
            await wait_ready(urls[0])
            with gateway_process(
                data_dir, ports[1], config_dir=config_dir, database=pg_url, env=lease
            ):
                await wait_ready(urls[1])
                bodies = signed_messages(data_dir, "slow", 16)
                halves = list(bodies.items())
                async with (
                    submitted(urls[0], dict(halves[:8])),
                    submitted(urls[1], dict(halves[8:])),
                ):
                    await recipient.until("len(set(self.received)) == 16", 30)
                await asyncio.sleep(1.5)  # time for a second push of anything, were there one
    pushed = Counter(recipient.received)
    assert set(pushed) == set(bodies)
    assert [i for i, n in pushed.items() if n > 1] == [], pushed


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_a_restart_takes_up_what_it_had_claimed_at_once(
    tmp_path: Path, stop: signal.Signals
) -> None:
    recipient = Recipient()
    recipient.gate.clear()  # every push waits: the deliveries stay claimed, in flight
    lease = {"GATEWAY_LEASE_SECONDS": "60"}
    async with serve(recipient.app()) as receiver:
        data_dir, config_dir = layout(tmp_path, f"{receiver}/inbound")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with gateway_process(data_dir, port, config_dir=config_dir, env=lease) as first:
            await wait_ready(url)
            bodies = signed_messages(data_dir, "held", 3)
            async with submitted(url, bodies):
                await recipient.until("self.held == 3", 10)
            first.send_signal(stop)
            await asyncio.get_running_loop().run_in_executor(None, first.wait, 15)
        recipient.gate.set()  # the old pushes' answers reach no one
        restarted = time.monotonic()
        with gateway_process(data_dir, port, config_dir=config_dir, env=lease):
            await wait_ready(url)
            await recipient.until("len(set(self.received)) == 3", 15)
            took = time.monotonic() - restarted
    assert set(recipient.received) == set(bodies)
    assert took < 15, f"claimed deliveries waited {took:.1f} s after the restart"
