"""Real ``gateway serve`` processes for the kill tests (one instance, and two on one
database): start, wait until ready, submit, read an inbox. Kept apart from the tests so both
kill tests use the same helpers."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

from gateway.assembly import dev_key_path
from gateway.messages import sign_message
from gateway.messages.event import build_event
from gateway.trust import SigningKey, issue_token
from tests.exchange.conftest import DIAGNOSIS, REPO, example

GATEWAY_ID = "330000.exchange"
HOSPITAL = "330784.health.h001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def gateway_process(
    data_dir: Path,
    port: int,
    *,
    config_dir: Path = REPO / "config",
    database: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``gateway serve`` in its own process, logging to ``<data_dir>/gateway-<port>.log``;
    killed on the way out if it is still running."""
    command = [sys.executable, "-m", "gateway", "serve", "--data-dir", str(data_dir)]
    command += ["--config", str(config_dir), "--port", str(port)]
    if database is not None:
        command += ["--database", database]
    log = (data_dir / f"gateway-{port}.log").open("ab")
    process = subprocess.Popen(
        command, stdout=log, stderr=log, cwd=REPO, env={**os.environ, **(env or {})}
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        log.close()


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("gateway did not become ready")


async def submit(session: aiohttp.ClientSession, url: str, body: bytes) -> int | None:
    """The answer's status, or None when the connection was cut before an answer."""
    try:
        async with session.post(
            f"{url}/v1/messages", data=body, headers={"content-type": "application/jose+json"}
        ) as response:
            await response.read()
            return response.status
    except (TimeoutError, aiohttp.ClientError):
        return None


async def inbox_ids(
    session: aiohttp.ClientSession, url: str, data_dir: Path, recipient: str
) -> list[str]:
    """Every event id in ``recipient``'s inbox, page by page."""
    key = SigningKey.load(dev_key_path(data_dir, recipient))
    ids: list[str] = []
    after = 0
    while True:
        token = issue_token(key, GATEWAY_ID, now=datetime.now(UTC))
        async with session.get(
            f"{url}/v1/inbox",
            params={"after": str(after), "limit": "500"},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            page = orjson.loads(await response.read())
        for item in page["messages"]:
            payload = item["message"]["payload"]
            event = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            ids.append(event["id"])
        if not page["messages"]:
            return ids
        after = page["next"]


def push_config(config_dir: Path, endpoint: str) -> Path:
    """The shipped configuration with the recognition centre switched to push."""
    shutil.copytree(REPO / "config", config_dir)
    departments = config_dir / "departments.toml"
    text, count = re.subn(
        r'(id = "330784\.hrss\.recognition"\n(?:(?!\[\[departments\]\]).*\n)*?)'
        r'delivery = \{ mode = "pull" \}',
        rf'\1delivery = {{ mode = "push", endpoint = "{endpoint}", timeout = "5s" }}',
        departments.read_text(encoding="utf-8"),
    )
    assert count == 1, "departments.toml changed shape: recognition's delivery line not found"
    departments.write_text(text, encoding="utf-8")
    return config_dir


def layout(tmp_path: Path, endpoint: str) -> tuple[Path, Path]:
    """The shared data directory (empty) and configuration directory of both instances."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return data_dir, push_config(tmp_path / "config", endpoint)


def signed_messages(data_dir: Path, prefix: str, count: int) -> dict[str, bytes]:
    """``count`` diagnosis messages signed with the hospital's development key, by id."""
    key = SigningKey.load(dev_key_path(data_dir, HOSPITAL))
    document = example("medical_diagnosis")
    return {
        f"{prefix}-{i}": sign_message(
            build_event(source=HOSPITAL, type=DIAGNOSIS, data=document, id=f"{prefix}-{i}"), key
        )
        for i in range(count)
    }
