"""What a pulling recipient that misbehaves may cost (issue 12, "SSE streams that never read
pin memory"): pages bounded in bytes, a per-department cap on streams, writes with a
timeout, and a client that goes away ending its stream normally. On both stores.

The backlog of large messages is put straight into the store (the stream sends stored bytes
verbatim, so what they say does not matter here); the clients are raw sockets with a small
receive buffer so that a client that stops reading fills the path quickly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import structlog

from gateway.audit.chain import AuditEvent
from gateway.configuration.model import TransportLimits
from gateway.logs import configure_logging
from gateway.masking import MaskingFilter
from gateway.storage.base import AcceptRequest
from gateway.testing import GatewayHandle, default_config, running_gateway

ASSESSMENT = "330700.hrss.assessment"  # a pull recipient in the default configuration
LARGE = 256 * 1024
LIMITS = TransportLimits(streams_per_department=2, write_timeout=0.5, page_bytes=3 * LARGE)


@contextmanager
def captured_log() -> Iterator[io.StringIO]:
    """The gateway's log lines (structlog and the standard library's, aiohttp's included)."""
    stream = io.StringIO()
    configure_logging(logging.INFO, stream)
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    logging.getLogger().addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)
        structlog.reset_defaults()


@asynccontextmanager
async def gateway(tmp_path: Path, database: str | None) -> AsyncIterator[GatewayHandle]:
    config = dataclasses.replace(default_config(), http=LIMITS)
    async with running_gateway(tmp_path, config=config, database=database) as gw:
        yield gw


async def backlog(gw: GatewayHandle, count: int, size: int = LARGE) -> None:
    """``count`` stored messages of ``size`` bytes waiting in ASSESSMENT's inbox."""
    store, now = gw.store, gw.clock.now()
    for i in range(count):
        body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
        await store.accept(
            AcceptRequest(
                source="330784.health.h001",
                event_id=f"large-{i}",
                type="cn.gov.zj.injury.medical_diagnosis.v1",
                subject=None,
                payload_sha256="ab" * 32,
                accepted_at=now,
                recipients=[(ASSESSMENT, "pull")],
                build=lambda seq, body=body: (body, b"{}"),
                audit=AuditEvent("message.accepted", "gateway", now, f"large-{i}", {}),
            )
        )


async def open_stream(gw: GatewayHandle, *, linger_reset: bool = False) -> socket.socket:
    """A raw client of ``GET /v1/inbox/stream`` that has read the answer's head only."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if linger_reset:  # close() then sends RST: the client vanishes mid-write
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.setblocking(False)
    port = int(gw.base_url.rsplit(":", 1)[1])
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    token = gw.client(ASSESSMENT).token()
    head = f"GET /v1/inbox/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    await loop.sock_sendall(sock, head.encode())
    first = await asyncio.wait_for(loop.sock_recv(sock, 200), 5)
    assert first.startswith(b"HTTP/1.1 200"), first
    return sock


async def stream_status(gw: GatewayHandle) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {gw.client(ASSESSMENT).token()}"}
    async with gw.session.get(f"{gw.base_url}/v1/inbox/stream", headers=headers) as response:
        if response.status != 200:
            return response.status, await response.json(content_type=None)
        return 200, {}


def ended(gw: GatewayHandle, reason: str) -> float:
    value = gw.metrics.registry.get_sample_value("zjx_streams_ended_total", {"reason": reason})
    return value or 0.0


def errors_counted(gw: GatewayHandle) -> float:
    registry = gw.metrics.registry
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "zjx_http_requests"
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("status") == "5xx"
    )


async def until(condition: object, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_inbox_page_is_bounded_in_bytes(tmp_path: Path, database: str | None) -> None:
    async with gateway(tmp_path, database) as gw:
        await backlog(gw, 5)
        page = await gw.client(ASSESSMENT).inbox(limit=500)
        assert [m["sequence"] for m in page["messages"]] == [1, 2, 3]  # 3 x 256 KiB fit
        assert page["next"] == 3
        rest = await gw.client(ASSESSMENT).inbox(after=3, limit=500)
        assert [m["sequence"] for m in rest["messages"]] == [4, 5]


async def test_streams_per_department_are_capped(tmp_path: Path, database: str | None) -> None:
    async with gateway(tmp_path, database) as gw:
        first, second = await open_stream(gw), await open_stream(gw)
        status, problem = await stream_status(gw)
        assert status == 429
        assert problem["type"] == "urn:zj-exchange:problem:too-many-streams"
        assert problem["status"] == 429 and "2 streams" in str(problem["detail"])
        first.close()
        await until(lambda: gw.notifier.streams(ASSESSMENT) == 1)
        third = await open_stream(gw)  # a place came free
        for sock in (second, third):
            sock.close()


async def test_a_client_that_stops_reading_is_cut_off(tmp_path: Path, database: str | None) -> None:
    with captured_log() as log:
        async with gateway(tmp_path, database) as gw:
            await backlog(gw, 40)  # 10 MiB: more than the socket buffers on the path hold
            stalled = await open_stream(gw)
            await until(lambda: ended(gw, "write-timeout") == 1)
            assert gw.notifier.streams(ASSESSMENT) == 0
            assert errors_counted(gw) == 0
            stalled.close()
            # the recipient comes back and resumes: everything is still there
            page = await gw.client(ASSESSMENT).inbox(limit=500)
            assert page["messages"][0]["sequence"] == 1
    lines = log.getvalue()
    assert '"reason": "write-timeout"' in lines
    assert "Traceback" not in lines and '"level": "error"' not in lines


async def test_a_client_gone_mid_write_is_a_normal_end(
    tmp_path: Path, database: str | None
) -> None:
    with captured_log() as log:
        async with gateway(tmp_path, database) as gw:
            await backlog(gw, 40)
            gone = await open_stream(gw, linger_reset=True)
            await asyncio.get_running_loop().sock_recv(gone, 4096)  # the stream is writing
            gone.close()  # RST while the gateway still has megabytes to write
            await until(lambda: ended(gw, "client-gone") == 1)
            assert errors_counted(gw) == 0
            assert gw.notifier.streams(ASSESSMENT) == 0
            async with gw.session.get(f"{gw.base_url}/healthz") as health:
                assert health.status == 200
    lines = log.getvalue()
    assert "Traceback" not in lines and '"level": "error"' not in lines
    assert "http.unhandled" not in lines
