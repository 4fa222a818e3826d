"""The transport's bound on connections per peer (issue 12, "What to build" 3): the next
connection from an address that holds ``connections_per_peer`` is answered 429 with a problem
and closed; a place comes free when one closes. On both stores."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import orjson

from gateway.configuration.model import TransportLimits
from gateway.testing import default_config, running_gateway


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _healthz(port: int) -> bytes:
    reader, writer = await _connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    try:
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


async def test_connections_per_peer_are_bounded(tmp_path: Path, database: str | None) -> None:
    config = dataclasses.replace(default_config(), http=TransportLimits(connections_per_peer=3))
    async with running_gateway(tmp_path, config=config, database=database) as gw:
        port = int(gw.base_url.rsplit(":", 1)[1])
        held = [await _connect(port) for _ in range(3)]
        answer = await _healthz(port)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 429 ")
        assert b"Content-Type: application/problem+json" in head
        problem = orjson.loads(body)
        assert problem["type"] == "urn:zj-exchange:problem:too-many-connections"
        refused = gw.metrics.registry.get_sample_value(
            "zjx_http_refused_total", {"reason": "too-many-connections"}
        )
        assert refused == 1
        held.pop()[1].close()
        await asyncio.sleep(0.1)
        assert (await _healthz(port)).startswith(b"HTTP/1.1 200 ")
        for _, writer in held:
            writer.close()
