"""The optional virus scan: ClamAV's daemon over its socket (``INSTREAM``).

Protocol (clamd(8), "INSTREAM"): send ``zINSTREAM\\0``, then the file as chunks each prefixed
by its length as a 4-byte big-endian number, then a zero length; clamd answers
``stream: OK\\0`` or ``stream: <signature> FOUND\\0`` (or an ``... ERROR`` line). Configured by
``GATEWAY_CLAMD`` as ``unix:/path/clamd.ctl`` or ``tcp:host:port``; unset means no scan.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

CHUNK = 64 * 1024


class ScannerUnavailable(Exception):
    """clamd could not be reached or answered with an error."""


async def scan(address: str, path: Path, seconds: float = 60.0) -> str | None:
    """None when clean, else the signature name clamd found. ``ScannerUnavailable`` when
    the daemon cannot answer (the upload is then refused, never let through unscanned)."""
    try:
        return await asyncio.wait_for(_scan(address, path), seconds)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        raise ScannerUnavailable(f"clamd at {address}: {type(exc).__name__}") from None


async def _scan(address: str, path: Path) -> str | None:
    reader, writer = await _connect(address)
    try:
        writer.write(b"zINSTREAM\0")
        with path.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                writer.write(struct.pack(">I", len(chunk)) + chunk)
                await writer.drain()
        writer.write(struct.pack(">I", 0))
        await writer.drain()
        answer = (await reader.readuntil(b"\0")).rstrip(b"\0").decode("utf-8", "replace")
    finally:
        writer.close()
    return _verdict(address, answer)


def _verdict(address: str, answer: str) -> str | None:
    _, _, result = answer.partition(": ")
    if result == "OK":
        return None
    if result.endswith(" FOUND"):
        return result[: -len(" FOUND")]
    raise ScannerUnavailable(f"clamd at {address} answered an error")


async def _connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    kind, _, rest = address.partition(":")
    if kind == "unix":
        return await asyncio.open_unix_connection(rest)
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        return await asyncio.open_connection(host, int(port))
    raise ScannerUnavailable(f"clamd address {address!r}: expected unix:/path or tcp:host:port")
