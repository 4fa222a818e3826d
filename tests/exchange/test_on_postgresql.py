"""The exchange over real HTTP with the PostgreSQL store: accept, push, pull, dedup."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.base import Delivered, Receiver
from gateway.testing import default_config, running_gateway
from tests.exchange.conftest import DIAGNOSIS, example, serve
from tests.storage.conftest import pg_database, pg_url  # noqa: F401 - fixtures

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"
ASSESSMENT = "330700.hrss.assessment"


async def test_end_to_end_on_postgresql(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    received: list[Delivered] = []
    arrived = asyncio.Event()

    async def on_delivery(delivered: Delivered) -> None:
        received.append(delivered)
        arrived.set()

    box: dict[str, Receiver] = {}

    async def handler(request):  # type: ignore[no-untyped-def]
        return await box["r"].handle(request)

    from aiohttp import web

    app = web.Application()
    app.router.add_post("/inbound", handler)
    async with serve(app) as url:
        config = default_config(push={RECOGNITION: f"{url}/inbound"})
        async with running_gateway(tmp_path, config=config, database=pg_url) as gw:
            box["r"] = Receiver(
                RECOGNITION,
                gw.key(RECOGNITION),
                f"{gw.base_url}/.well-known/jwks.json",
                gw.session,
                on_delivery,
                gw.gateway_id,
            )
            hospital = gw.client(HOSPITAL)
            body = hospital.sign(DIAGNOSIS, example("medical_diagnosis"), event_id="pg-1")
            first = await hospital.submit_signed(body)
            assert await hospital.submit_signed(body) == first  # dedup
            await asyncio.wait_for(arrived.wait(), 10)
            assert received[0].verified.event.id == "pg-1"
            page = await gw.client(ASSESSMENT).inbox()
            assert [m["sequence"] for m in page["messages"]] == [first["sequence"]]
            for _ in range(100):  # the receiver's callback runs before its 200 is recorded
                status = await hospital.status("pg-1")
                states = {d["recipient"]: d["state"] for d in status["deliveries"]}
                if states[RECOGNITION] == "delivered":
                    break
                await asyncio.sleep(0.05)
            assert states[RECOGNITION] == "delivered"
