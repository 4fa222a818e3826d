"""A gateway configured with ``[crypto] digest = "sm3"`` and an SM2 key: its audit chain is
SM3 end to end (``audit verify``, ``audit checkpoint``, ``audit export``), its receipts state
``payload_sm3``, and a store whose chain uses one digest refuses to start with the other."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.audit import checkpoints
from gateway.audit.chain import GENESES
from gateway.cli import main
from gateway.configuration import load_config
from gateway.packaged import default_config_dir
from gateway.problems import ConfigError
from gateway.testing import running_gateway
from gateway.trust import SigningKey
from gateway.trust.digests import hexdigest
from tests.exchange.conftest import DIAGNOSIS, example

HOSPITAL = "330784.health.h001"


def _config_dir(tmp_path: Path, digest: str) -> Path:
    """The default configuration with an SM2 gateway key and ``digest``."""
    directory = tmp_path / f"config-{digest}"
    shutil.copytree(default_config_dir(), directory)
    key = directory / "gateway.jwk"
    if not (tmp_path / "gateway.jwk").exists():
        SigningKey.generate("330000.exchange/gm1", "SM2").save(tmp_path / "gateway.jwk")
    shutil.copy(tmp_path / "gateway.jwk", key)
    key.chmod(0o600)
    toml = directory / "gateway.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace('# key_file = "/etc/zj-exchange/gateway.jwk"', 'key_file = "gateway.jwk"')
    text = text.replace('digest = "sha256"', f'digest = "{digest}"')
    toml.write_text(text, encoding="utf-8")
    return directory


def _args(data_dir: Path, config: Path, database: str | None) -> list[str]:
    store = ["--database", database] if database else []
    return ["--data-dir", str(data_dir), "--config", str(config), *store]


async def _history(data: Path, config_dir: Path, database: str | None) -> tuple[Any, Any]:
    config = load_config(config_dir)
    async with running_gateway(data, config=config, database=database) as gw:
        receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        return receipt, await gw.store.audit_rows(0, 100)  # type: ignore[attr-defined]


async def _start(data: Path, config_dir: Path, database: str | None) -> None:
    async with running_gateway(data, config=load_config(config_dir), database=database):
        pass


def test_an_sm3_chain_end_to_end(
    tmp_path: Path, database: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    config_dir = _config_dir(tmp_path, "sm3")
    data = tmp_path / "data"
    receipt, rows = asyncio.run(_history(data, config_dir, database))
    assert "payload_sha256" not in receipt and len(receipt["payload_sm3"]) == 64
    assert rows[0][2] == GENESES["sm3"]
    assert all(row[3].startswith("sm3:") for row in rows)
    _, entry, prev, head = rows[0]
    assert head == "sm3:" + hexdigest("sm3", prev.encode() + b"\n" + entry)

    args = _args(data, config_dir, database)
    assert main(["audit", "checkpoint", *args]) == 0
    [point] = checkpoints.load(data)
    assert point.hash == rows[-1][3]
    assert orjson.loads(_b64(point.token.split(".")[0]))["alg"] == "SM2"
    capsys.readouterr()
    assert main(["audit", "verify", *args]) == 0
    out = capsys.readouterr().out
    assert f"intact: {len(rows)} entries" in out and "1 signed checkpoints, digest sm3" in out
    assert main(["audit", "export", *args, "--out", str(tmp_path / "audit.jsonl")]) == 0
    lines = [orjson.loads(x) for x in (tmp_path / "audit.jsonl").read_bytes().splitlines()]
    entries = [x for x in lines if x["kind"] == "entry"]
    assert {x["digest"] for x in entries} == {"sm3"} and len(entries) == len(rows)
    assert lines[-1]["jwk"]["crv"] == "SM2"

    # the same store, configured for SHA-256: refused, not a second chain
    with pytest.raises(ConfigError, match="uses sm3"):
        asyncio.run(_start(data, _config_dir(tmp_path, "sha256"), database))


def _b64(segment: str) -> bytes:
    from gateway.messages.jws import b64url_decode

    return b64url_decode(segment, "/")
