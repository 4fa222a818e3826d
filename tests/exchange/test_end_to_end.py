"""One department submits; a push recipient and a pull recipient (inbox and SSE) receive it,
verify both signatures with the published JWKS, and the sender sees it delivered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

from adapters.link import Delivered, Receiver
from gateway.messages import verify_all
from gateway.testing import default_config, running_gateway
from gateway.trust import KeyRegistry
from tests.exchange.conftest import DIAGNOSIS, example, serve

CASE = "GS-330784-2026-000731"  # the example diagnosis's case_id
HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"  # push
ASSESSMENT = "330700.hrss.assessment"  # pull
MEDINSURANCE = "330784.medinsurance"  # pull


async def test_submit_push_pull_sse_and_status(tmp_path: Path, database: str | None) -> None:
    received: list[Delivered] = []
    arrived = asyncio.Event()

    async def on_delivery(delivered: Delivered) -> None:
        received.append(delivered)
        arrived.set()

    async with aiohttp.ClientSession() as session:
        # The receiver needs the gateway's URL for the JWKS, the gateway needs the receiver's
        # URL for its configuration: bind the receiver first with a placeholder JWKS URL.
        receiver_box: dict[str, Receiver] = {}

        async def handler(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
            return await receiver_box["r"].handle(request)

        app = aiohttp.web.Application()
        app.router.add_post("/inbound", handler)
        async with serve(app) as receiver_url:
            config = default_config(push={RECOGNITION: f"{receiver_url}/inbound"})
            async with running_gateway(tmp_path, config=config, database=database) as gw:
                receiver_box["r"] = Receiver(
                    RECOGNITION,
                    gw.key(RECOGNITION),
                    f"{gw.base_url}/.well-known/jwks.json",
                    session,
                    on_delivery,
                    gw.gateway_id,
                )
                hospital = gw.client(HOSPITAL)
                assessment = gw.client(ASSESSMENT)
                stream = assessment.stream()
                first_streamed = asyncio.ensure_future(stream.__anext__())
                await asyncio.sleep(0.05)

                receipt = await hospital.submit(
                    DIAGNOSIS,
                    example("medical_diagnosis"),
                    event_id="diag-1",
                    subject="GS-330784-2026-000731",
                )
                assert receipt["id"] == "diag-1"
                assert set(receipt["recipients"]) == {RECOGNITION, ASSESSMENT, MEDINSURANCE}

                # push: verified by the receiver with the published JWKS
                await asyncio.wait_for(arrived.wait(), 10)
                assert received[0].verified.origin == HOSPITAL
                assert received[0].verified.event.id == "diag-1"

                # pull: inbox, verified independently with the JWKS
                jwks = KeyRegistry.from_jwks(await assessment.jwks())
                page = await assessment.inbox()
                assert [m["sequence"] for m in page["messages"]] == [receipt["sequence"]]
                body = orjson.dumps(page["messages"][0]["message"])
                verified = verify_all(body, jwks, datetime.now(UTC), gateway_id=gw.gateway_id)
                assert verified.origin == HOSPITAL and verified.gateway == gw.gateway_id

                # pull: SSE carries the exact stored bytes
                seq, streamed = await asyncio.wait_for(first_streamed, 10)
                assert seq == receipt["sequence"]
                verify_all(streamed, jwks, datetime.now(UTC), gateway_id=gw.gateway_id)
                await stream.aclose()

                assert await assessment.ack([seq]) == 1
                for _ in range(100):  # the receiver's callback runs before its 200 is recorded
                    status = await hospital.status("diag-1")
                    states = {d["recipient"]: d["state"] for d in status["deliveries"]}
                    if states[RECOGNITION] == "delivered":
                        break
                    await asyncio.sleep(0.05)
                assert states[RECOGNITION] == "delivered"
                assert states[ASSESSMENT] == "delivered"
                assert states[MEDINSURANCE] == "pending"
                receipts = {d["recipient"]: d["delivery_receipt"] for d in status["deliveries"]}
                assert "receipt" in orjson.loads(receipts[RECOGNITION])


async def test_same_message_twice_is_delivered_once(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        hospital = gw.client(HOSPITAL)
        body = hospital.sign(DIAGNOSIS, example("medical_diagnosis"), event_id="dup-1")
        first = await hospital.submit_signed(body)
        second = await hospital.submit_signed(body)
        assert first == second
        page = await gw.client(ASSESSMENT).inbox()
        assert len(page["messages"]) == 1
