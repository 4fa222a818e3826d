"""Several gateway instances on one PostgreSQL database (DESIGN.md section 8, issue 7).

Two real ``gateway serve`` processes share one database and one data directory (so one set
of development keys: the gateway's and every department's). Load goes through both; one is
SIGKILLed in the middle; the survivor takes over the dead one's leased claims once the lease
has run out. Every message that got a 202 reaches its push recipient, at least once, and
only deliveries the dead instance held can arrive twice. The same message sent to both
instances at the same moment is accepted once, and both answers carry the same receipt.

These tests need PostgreSQL: skipped when it is down, failing instead when CI is set.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from gateway.testing import running_gateway
from tests.exchange.conftest import DIAGNOSIS, example, serve
from tests.exchange.processes import (
    free_port,
    gateway_process,
    inbox_ids,
    layout,
    push_config,
    signed_messages,
    submit,
    wait_ready,
)

pytestmark = pytest.mark.slow

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"  # switched to push for these tests
PULLING = ("330700.hrss.assessment", "330784.medinsurance")
#: Short, so the takeover after the kill is quick; long enough that a live instance finishes
#: a claimed batch (128 pushes, 4 at a time, ~10 ms each) well before its lease runs out.
LEASE_SECONDS = 4.0
LEASE = {"GATEWAY_LEASE_SECONDS": str(LEASE_SECONDS)}  # short, so a takeover fits a test


@dataclass
class PushRecorder:
    """The push recipient: answers 200 after ``delay`` and counts what each id got. While
    ``gate`` is closed it holds every push it receives, so the test can kill an instance
    that certainly has pushes in flight (each instance pushes at most 4 at a time to one
    recipient: 5 held pushes mean both instances hold some)."""

    delay: float = 0.01
    received: list[str] = field(default_factory=list)
    held: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # set: enough are held
    enough: int = 0

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
        self.received.append(event_id)
        self.held += 1
        if self.enough and self.held >= self.enough:
            self.holding.set()
        try:
            await self.gate.wait()
        finally:
            self.held -= 1
        await asyncio.sleep(self.delay)
        return web.json_response({"ok": True})

    async def hold_until(self, count: int, seconds: float = 15.0) -> None:
        """Close the gate and wait until ``count`` pushes are held."""
        self.enough = count
        self.gate.clear()
        async with asyncio.timeout(seconds):
            await self.holding.wait()


@dataclass
class Instance:
    url: str
    process: subprocess.Popen[bytes]


@asynccontextmanager
async def two_instances(
    data_dir: Path, config_dir: Path, database: str
) -> AsyncIterator[tuple[Instance, Instance]]:
    """Two instances on one database and one data directory, started one after the other
    (as deploy/compose.yaml does; concurrent first starts are tested in
    tests/trust/test_first_start_race.py and tests/admin/test_bootstrap_race.py)."""
    ports = (free_port(), free_port())
    with gateway_process(
        data_dir, ports[0], config_dir=config_dir, database=database, env=LEASE
    ) as first:
        await wait_ready(f"http://127.0.0.1:{ports[0]}")
        with gateway_process(
            data_dir, ports[1], config_dir=config_dir, database=database, env=LEASE
        ) as second:
            await wait_ready(f"http://127.0.0.1:{ports[1]}")
            yield (
                Instance(f"http://127.0.0.1:{ports[0]}", first),
                Instance(f"http://127.0.0.1:{ports[1]}", second),
            )


async def push_states(database: str) -> dict[str, tuple[str, datetime | None]]:
    """Each message's push delivery to the recognition centre: (state, delivered_at)."""
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT m.event_id, d.state, d.delivered_at FROM deliveries d"
            " JOIN messages m USING (seq) WHERE d.recipient = $1",
            RECOGNITION,
        )
    finally:
        await conn.close()
    return {row[0]: (row[1], row[2]) for row in rows}


async def leased_pushes(database: str) -> dict[str, datetime]:
    """Push deliveries claimed and not finished right now: event id -> end of the lease."""
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT m.event_id, d.lease_until FROM deliveries d JOIN messages m USING (seq)"
            " WHERE d.recipient = $1 AND d.state = 'pending' AND d.lease_owner IS NOT NULL",
            RECOGNITION,
        )
    finally:
        await conn.close()
    return {row[0]: row[1] for row in rows}


async def wait_all_delivered(
    database: str, ids: set[str], seconds: float
) -> dict[str, tuple[str, datetime | None]]:
    """Poll until every id's push delivery is ``delivered``; returns the final states."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        states = await push_states(database)
        if all(states.get(i, ("missing", None))[0] == "delivered" for i in ids):
            return states
        if asyncio.get_running_loop().time() > deadline:
            stuck = sorted(i for i in ids if states.get(i, ("missing", None))[0] != "delivered")
            raise AssertionError(f"{len(stuck)} accepted messages not delivered: {stuck[:10]}")
        await asyncio.sleep(0.2)


@dataclass
class Kill:
    """What the load saw: answers by id, and the claims that were live when one died."""

    answers: dict[str, int | None] = field(default_factory=dict)
    leased_at_kill: dict[str, datetime] = field(default_factory=dict)


async def load_with_kill(
    bodies: dict[str, bytes],
    instances: tuple[Instance, Instance],
    recorder: PushRecorder,
    database: str,
) -> Kill:
    """Send every body, alternating between the instances, all at once. Half way through,
    hold the push recipient until both instances have pushes in flight, SIGKILL the first
    instance, note what was leased at that moment, and let the pushes go on."""
    kill = Kill()
    victim = instances[0].process
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(index: int, event_id: str) -> None:
            url = instances[index % 2].url
            kill.answers[event_id] = await submit(session, url, bodies[event_id])
            if len(kill.answers) == len(bodies) // 2:
                await recorder.hold_until(5)
                os.kill(victim.pid, signal.SIGKILL)
                kill.leased_at_kill = await leased_pushes(database)
                recorder.gate.set()

        await asyncio.gather(*(one(i, event_id) for i, event_id in enumerate(bodies)))
    victim.wait(10)
    assert victim.returncode == -signal.SIGKILL
    return kill


async def resend_unanswered(kill: Kill, bodies: dict[str, bytes], survivor: Instance) -> None:
    """Submissions cut off by the kill are resent, same bytes, to the survivor (at least
    once, as every sender does); each gets a 202, original receipt or new."""
    async with aiohttp.ClientSession() as session:
        for event_id, status in sorted(kill.answers.items()):
            if status is None:
                status = await submit(session, survivor.url, bodies[event_id])
                assert status == 202, f"{event_id}: resent to the survivor, got {status}"
                kill.answers[event_id] = status


async def test_two_instances_under_load_survive_a_sigkill(tmp_path: Path, pg_url: str) -> None:
    recorder = PushRecorder()
    async with serve(recorder.app()) as receiver:
        data_dir, config_dir = layout(tmp_path, f"{receiver}/inbound")
        async with two_instances(data_dir, config_dir, pg_url) as instances:
            bodies = signed_messages(data_dir, "load", 300)
            kill = await load_with_kill(bodies, instances, recorder, pg_url)
            first_answers = dict(kill.answers)
            await resend_unanswered(kill, bodies, instances[1])
            accepted = {i for i, status in kill.answers.items() if status == 202}
            states = await wait_all_delivered(pg_url, accepted, seconds=60 + LEASE_SECONDS)
            async with aiohttp.ClientSession() as session:
                pulled = {
                    r: await inbox_ids(session, instances[1].url, data_dir, r) for r in PULLING
                }

    refused = {i: s for i, s in kill.answers.items() if s != 202}
    assert not refused, f"refused or unanswered after the resend: {refused}"
    assert any(s == 202 for i, s in first_answers.items() if int(i.split("-")[1]) % 2 == 0), (
        "the killed instance accepted nothing before it died"
    )
    counts = Counter(recorder.received)
    duplicates = {i: n - 1 for i, n in counts.items() if n > 1}
    report = (
        f"{len(accepted)} accepted, {len(recorder.received)} pushes received, "
        f"{sum(duplicates.values())} duplicate pushes ({len(duplicates)} messages), "
        f"{len(kill.leased_at_kill)} claims live at the kill"
    )
    print(f"\nseveral instances: {report}")
    assert accepted <= set(counts), f"lost push deliveries: {sorted(accepted - set(counts))}"
    assert set(counts) <= accepted, f"pushed but never accepted: {sorted(set(counts) - accepted)}"
    # At least once: a second push only for a delivery that was claimed when the instance
    # died (it may have pushed and died before recording the 200).
    assert set(duplicates) <= set(kill.leased_at_kill), f"unexplained duplicates: {report}"
    taken_over = [
        i
        for i, until in kill.leased_at_kill.items()
        if (when := states[i][1]) is not None and when >= until
    ]
    assert taken_over, f"the survivor took over no claim after its lease ran out: {report}"
    for recipient, ids in pulled.items():
        assert Counter(ids) == Counter(accepted), f"{recipient}: inbox differs from accepted"


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    async with session.post(
        f"{url}/v1/messages", data=body, headers={"content-type": "application/jose+json"}
    ) as response:
        return response.status, response.headers, await response.read()


async def test_same_message_to_both_instances_at_once_is_accepted_once(
    tmp_path: Path, pg_url: str
) -> None:
    recorder = PushRecorder(delay=0.0)
    rounds = 50
    async with serve(recorder.app()) as receiver:
        data_dir, config_dir = layout(tmp_path, f"{receiver}/inbound")
        async with two_instances(data_dir, config_dir, pg_url) as (a, b):
            bodies = signed_messages(data_dir, "twin", rounds)
            async with aiohttp.ClientSession() as session:
                for event_id, body in bodies.items():
                    answers = await asyncio.gather(
                        post(session, a.url, body), post(session, b.url, body)
                    )
                    assert [status for status, _, _ in answers] == [202, 202], event_id
                    assert answers[0][2] == answers[1][2], f"{event_id}: receipts differ"
                    replayed = sorted(h.get("Idempotent-Replayed", "") for _, h, _ in answers)
                    assert replayed == ["", "true"], f"{event_id}: {replayed}"
                await wait_all_delivered(pg_url, set(bodies), seconds=30)
                pulled = {r: await inbox_ids(session, b.url, data_dir, r) for r in PULLING}

    assert Counter(recorder.received) == Counter(set(bodies)), "pushed other than once each"
    for recipient, ids in pulled.items():
        assert Counter(ids) == Counter(set(bodies)), f"{recipient}: not one delivery each"


def test_push_config_switches_only_recognition(tmp_path: Path) -> None:
    """The configuration the instances run with: recognition pushes, nobody else does."""
    from gateway.configuration import load_config

    config = load_config(push_config(tmp_path / "config", "http://127.0.0.1:9/inbound"))
    pushing = {d.id for d in config.departments.values() if d.delivery.mode == "push"}
    assert pushing == {RECOGNITION}
    assert config.departments[RECOGNITION].delivery.endpoint == "http://127.0.0.1:9/inbound"


async def test_stream_on_one_instance_hears_of_a_message_accepted_on_another(
    tmp_path: Path, pg_url: str
) -> None:
    """DESIGN.md section 7: delivery starts the moment the message commits, across
    instances by a database notification; a pulling department's live stream included."""
    async with (
        running_gateway(tmp_path, database=pg_url) as first,
        running_gateway(tmp_path, database=pg_url) as second,
    ):
        # an async generator, though typed as an iterator
        stream = cast(AsyncGenerator[tuple[int, bytes], None], first.client(PULLING[0]).stream())
        streamed = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)  # the stream is open and has found its inbox empty
        receipt = await second.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        try:
            seq, _ = await asyncio.wait_for(streamed, 3)
        finally:
            await stream.aclose()
        assert seq == receipt["sequence"]
