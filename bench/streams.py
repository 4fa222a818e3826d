"""Memory of the gateway while SSE clients never read (issue 12), against a stated bound.

A gateway process (pinned to one core with ``taskset`` where there is one) gets a backlog of
large messages (``max_message_bytes`` each) for a few pull recipients; then N clients open
``GET /v1/inbox/stream`` with a 4 KiB receive buffer, read the answer's head and nothing
more, first N/2 of them, then the other N/2. Reported: the gateway's RSS idle (the baseline,
same run), with N/2 and with N streams blocked, after they closed, and the growth per stream
(the slope between N/2 and N, so costs that do not grow with streams, such as SQLite's page
caches, are not counted per stream) against the bound the design states:

    per stream <= page_bytes + 3 * max_message_bytes

(one page of messages held while its write is blocked; of the message being written, the
SSE event, aiohttp's chunk and the transport's copy of what the kernel did not take). Before
issue 12 a blocked stream held a page of up to 500 messages, and the page query sorted the
bodies: four streams took the process from 138 to 596 MiB.

    .venv/bin/python -m bench.streams [--streams 16] [--backlog 40] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.exchange import REPO_ROOT, free_port, wait_ready
from gateway.assembly import dev_key_path
from gateway.audit.chain import AuditEvent
from gateway.clock import SystemClock
from gateway.configuration import load_config
from gateway.storage.base import AcceptRequest
from gateway.storage.sqlite import SqliteStore
from gateway.trust import SigningKey, issue_token

MIB = 1024 * 1024
RECIPIENTS = (
    "330700.hrss.assessment",
    "330784.hrss.benefits",
    "330784.hrss.recognition",
    "330784.medinsurance",
)


def rss(pid: int) -> float:
    """Resident set size of ``pid``, MiB (``VmRSS`` in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def pinned(command: list[str], core: str) -> list[str]:
    return ["taskset", "-c", core, *command] if shutil.which("taskset") else command


async def fill(data: Path, recipients: list[str], backlog: int, size: int) -> None:
    """``backlog`` messages of ``size`` bytes, each waiting in every recipient's inbox."""
    store = SqliteStore(data / "gateway.sqlite3", clock=SystemClock())
    await store.open()
    try:
        now = datetime.now(UTC)
        body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
        for i in range(backlog):
            await store.accept(
                AcceptRequest(
                    source="330784.health.h001",
                    event_id=f"bench-large-{i}",
                    type="cn.gov.zj.injury.medical_diagnosis.v1",
                    subject=None,
                    payload_sha256="ab" * 32,
                    accepted_at=now,
                    recipients=[(r, "pull") for r in recipients],
                    build=lambda seq: (body, b"{}"),
                    audit=AuditEvent("message.accepted", "bench", now, f"large-{i}", {}),
                )
            )
    finally:
        await store.close()


def token_for(data: Path, department: str, gateway_id: str) -> str:
    key = SigningKey.load(dev_key_path(data, department))
    return issue_token(key, gateway_id, clock=SystemClock())


def steady(pid: int, seconds: float) -> float:
    """The gateway's RSS once it has stopped changing (streams blocked), MiB."""
    time.sleep(seconds)
    return rss(pid)


def open_stream(port: int, token: str) -> socket.socket:
    """A client that reads the stream's head and then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    head = f"GET /v1/inbox/stream HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {token}\r\n\r\n"
    sock.sendall(head.encode())
    answer = sock.recv(200)
    if not answer.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"stream refused: {answer[:120]!r}")
    return sock


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--backlog", type=int, default=40, help="large messages waiting")
    parser.add_argument("--seconds", type=float, default=4.0, help="settling time per step")
    args = parser.parse_args()
    config = load_config(REPO_ROOT / "config")
    limits, max_message = config.http, config.gateway.max_message_bytes
    per_department = limits.streams_per_department
    count = -(-args.streams // per_department)
    if count > len(RECIPIENTS):
        raise SystemExit(f"at most {len(RECIPIENTS) * per_department} streams")
    recipients = list(RECIPIENTS[:count])
    with tempfile.TemporaryDirectory() as tmp:
        data, port = Path(tmp), free_port()
        command = [sys.executable, "-m", "gateway", "serve", "--data-dir", tmp, "--port", str(port)]
        log = (data / "gateway.log").open("wb")
        gateway = subprocess.Popen(pinned(command, "0"), cwd=REPO_ROOT, stdout=log, stderr=log)
        streams: list[socket.socket] = []
        try:
            wait_ready(f"http://127.0.0.1:{port}")
            asyncio.run(fill(data, recipients, args.backlog, max_message - 64))
            time.sleep(1.0)
            idle = rss(gateway.pid)
            half = args.streams // 2
            tokens = [
                token_for(data, recipients[i // per_department], config.gateway.id)
                for i in range(args.streams)
            ]
            streams += [open_stream(port, t) for t in tokens[:half]]
            at_half = steady(gateway.pid, args.seconds)
            streams += [open_stream(port, t) for t in tokens[half:]]
            at_full = steady(gateway.pid, args.seconds)
            for sock in streams:
                sock.close()
            time.sleep(2.0)
            after = rss(gateway.pid)
        finally:
            for sock in streams:
                with contextlib.suppress(OSError):
                    sock.close()
            gateway.terminate()
            gateway.wait(20)
    bound = limits.page_bytes / MIB + 3 * max_message / MIB
    slope = (at_full - at_half) / (args.streams - half)
    print(
        f"{args.streams} never-reading streams, backlog {args.backlog} x "
        f"{max_message / MIB:.1f} MiB per recipient ({len(recipients)} recipients); "
        f"page_bytes {limits.page_bytes / MIB:.1f} MiB, write_timeout {limits.write_timeout:g} s"
    )
    print(f"RSS idle (baseline)          {idle:8.1f} MiB")
    print(f"RSS, {half:2} streams blocked     {at_half:8.1f} MiB")
    print(f"RSS, {args.streams:2} streams blocked     {at_full:8.1f} MiB  (x{at_full / idle:.2f})")
    print(f"RSS after they closed        {after:8.1f} MiB")
    print(f"per stream (slope)           {slope:8.2f} MiB  (bound {bound:.2f} MiB)")
    print("within bound" if slope <= bound else "OVER BOUND")
    if slope > bound:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
