"""The optional virus scan through clamd's socket protocol (INSTREAM). clamd itself is the
outside world here: a small stand-in speaks its protocol on a Unix socket and reports the
EICAR test signature, as clamd does."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.testing import running_gateway
from tests.attachments.conftest import pdf_bytes
from tests.attachments.test_exchange import HOSPITAL, PROBLEM, _post

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


async def _clamd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    assert await reader.readexactly(10) == b"zINSTREAM\0"
    received = b""
    while size := struct.unpack(">I", await reader.readexactly(4))[0]:
        received += await reader.readexactly(size)
    verdict = b"stream: Eicar-Test-Signature FOUND\0" if EICAR in received else b"stream: OK\0"
    writer.write(verdict)
    await writer.drain()
    writer.close()


@pytest.fixture
async def clamd_socket(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "clamd.ctl"
    server = await asyncio.start_unix_server(_clamd, path=str(path))
    async with server:
        yield path


async def test_clamd_refuses_malware_and_passes_clean_files(
    tmp_path: Path, clamd_socket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_CLAMD", f"unix:{clamd_socket}")
    async with running_gateway(tmp_path / "gw", run_dispatcher=False) as gw:
        clean = await _post(gw, HOSPITAL, pdf_bytes(), "application/pdf")
        assert clean[0] == 201
        status, problem = await _post(gw, HOSPITAL, pdf_bytes(extra=EICAR), "application/pdf")
        assert (status, problem["type"], problem["rule"]) == (
            422,
            PROBLEM + "attachment-content-refused",
            "malware",
        )


async def test_an_unreachable_clamd_refuses_instead_of_letting_files_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_CLAMD", f"unix:{tmp_path / 'absent.ctl'}")
    async with running_gateway(tmp_path / "gw", run_dispatcher=False) as gw:
        status, problem = await _post(gw, HOSPITAL, pdf_bytes(), "application/pdf")
        assert (status, problem["type"], problem["rule"]) == (
            503,
            PROBLEM + "attachment-scanner-unavailable",
            "scanner-unavailable",
        )
        assert gw.metrics.attachment_refusals.labels("scanner-unavailable")._value.get() == 1
