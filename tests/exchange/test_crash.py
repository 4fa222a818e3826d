"""The kill test: SIGKILL the gateway while a few hundred submissions are in flight. Every
message that got a 202 reaches every recipient after a restart; none that was refused does.

Submissions whose connection was cut before an answer are resent after the restart with the
same bytes, as every sender does (at least once); the gateway answers them with a receipt,
original or new, and never delivers one twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import orjson

from gateway.assembly import dev_key_path
from gateway.messages import sign_message
from gateway.messages.event import build_event
from gateway.trust import SigningKey
from tests.exchange.conftest import DIAGNOSIS, example
from tests.exchange.processes import free_port, gateway_process, inbox_ids, submit, wait_ready

HOSPITAL = "330784.health.h001"
RECIPIENTS = ("330784.hrss.recognition", "330700.hrss.assessment", "330784.medinsurance")
GATEWAY_ID = "330000.exchange"


async def test_sigkill_loses_no_accepted_message(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with gateway_process(tmp_path, port) as first:
        await wait_ready(url)
        key = SigningKey.load(dev_key_path(tmp_path, HOSPITAL))
        document = example("medical_diagnosis")
        good = {
            f"k-{i}": sign_message(
                build_event(source=HOSPITAL, type=DIAGNOSIS, data=document, id=f"k-{i}"), key
            )
            for i in range(300)
        }
        bad = {}
        for i in range(30):
            signed = orjson.loads(
                sign_message(
                    build_event(source=HOSPITAL, type=DIAGNOSIS, data=document, id=f"bad-{i}"), key
                )
            )
            signed["signatures"][0]["signature"] = signed["signatures"][0]["signature"][::-1]
            bad[f"bad-{i}"] = orjson.dumps(signed)
        bodies = {**good, **bad}
        order = sorted(bodies, key=lambda k: hash(k))
        answers: dict[str, int | None] = {}
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(event_id: str) -> None:
                answers[event_id] = await submit(session, url, bodies[event_id])
                if len(answers) == 120:
                    os.kill(first.pid, signal.SIGKILL)

            await asyncio.gather(*(one(event_id) for event_id in order))
        first.wait(10)
        assert first.returncode == -signal.SIGKILL

    accepted = {k for k, status in answers.items() if status == 202}
    refused = {k for k, status in answers.items() if status is not None and 400 <= status < 500}
    unanswered = {k for k, status in answers.items() if status is None}
    assert accepted, "the kill came before anything was accepted"
    assert unanswered, "the kill came after everything was answered"
    assert refused <= set(bad) and not (accepted & set(bad))

    with gateway_process(tmp_path, port):
        await wait_ready(url)
        async with aiohttp.ClientSession() as session:
            for event_id in sorted(unanswered & set(good)):
                assert await submit(session, url, good[event_id]) == 202
            for recipient in RECIPIENTS:
                ids = await inbox_ids(session, url, tmp_path, recipient)
                assert len(ids) == len(set(ids)), "a message was delivered twice"
                assert accepted <= set(ids), f"{recipient} lost accepted messages"
                assert not (set(ids) & set(bad)), f"{recipient} got a refused message"
                assert set(ids) == set(good)
