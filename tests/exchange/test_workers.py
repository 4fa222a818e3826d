"""``gateway serve --workers N`` (issue 15): N processes on one port with SO_REUSEPORT.

Real processes on PostgreSQL (the store several instances share): the supervisor starts N
workers, the kernel spreads new connections over them and every one accepts messages
(told apart by the per-process prefix of their request ids), and one SIGTERM to the
supervisor stops them all. A worker that dies stops the others too, so a half-running
gateway never stays up. On SQLite, which one process owns, the command refuses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from gateway.assembly import dev_key_path
from gateway.messages import build_event, sign_message
from gateway.trust import SigningKey
from tests.exchange.conftest import DIAGNOSIS, REPO, example
from tests.exchange.processes import free_port, wait_ready

pytestmark = pytest.mark.slow
SOURCE = "330784.health.h001"


@contextmanager
def supervisor(data_dir: Path, port: int, workers: int, database: str) -> Iterator[int]:
    """``gateway serve --workers``; yields the supervisor's pid, killed with its group after."""
    command = [sys.executable, "-m", "gateway", "serve", "--data-dir", str(data_dir)]
    command += ["--port", str(port), "--workers", str(workers), "--database", database]
    log = (data_dir / "serve.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=log, cwd=REPO, start_new_session=True)
    try:
        yield process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        log.close()


def workers_of(pid: int) -> list[int]:
    """The gateway workers among ``pid``'s children (not multiprocessing's tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


async def submit_each_on_a_new_connection(url: str, data_dir: Path, count: int) -> list[str]:
    """Submit ``count`` messages, each on its own connection; the request ids answered."""
    key = SigningKey.load(dev_key_path(data_dir, SOURCE))
    document = example("medical_diagnosis")
    del document["case_id"]  # under no case: a case_id needs its subject
    ids = []
    for i in range(count):
        body = sign_message(
            build_event(source=SOURCE, type=DIAGNOSIS, data=document, id=f"workers-{i}"),
            key,
        )
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.post(
                f"{url}/v1/messages", data=body, headers={"content-type": "application/jose+json"}
            ) as response:
                await response.read()
                assert response.status == 202, await response.text()
                ids.append(response.headers["X-Request-Id"])
    return ids


def test_two_workers_all_accept_and_one_sigterm_stops_all(tmp_path: Path, pg_url: str) -> None:
    port = free_port()
    with supervisor(tmp_path, port, 2, pg_url) as pid:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_ready(url))
        workers = workers_of(pid)
        assert len(workers) == 2
        request_ids = asyncio.run(submit_each_on_a_new_connection(url, tmp_path, 24))
        # the per-process prefix of a request id names the worker that answered
        answered_by = {rid.split("-")[0] for rid in request_ids}
        assert len(answered_by) == 2, answered_by
        os.kill(pid, signal.SIGTERM)
        assert wait_gone([pid, *workers], 30) == []


def test_a_worker_that_dies_stops_the_others(tmp_path: Path, pg_url: str) -> None:
    port = free_port()
    with supervisor(tmp_path, port, 2, pg_url) as pid:
        asyncio.run(wait_ready(f"http://127.0.0.1:{port}"))
        first, second = workers_of(pid)
        os.kill(first, signal.SIGKILL)
        assert wait_gone([pid, second], 30) == []


def test_more_than_one_worker_is_refused_on_sqlite(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "gateway", "serve", "--data-dir", str(tmp_path)]
    done = subprocess.run(
        [*command, "--workers", "2"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--workers above 1 needs a store several instances share" in done.stderr
    assert not (tmp_path / "gateway.sqlite3").exists()
