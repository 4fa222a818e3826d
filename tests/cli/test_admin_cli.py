"""``gateway admin``: the admin API from the command line, against a real gateway on loopback.

The command is synchronous (urllib), so it runs in a thread while the gateway serves on the
test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import structlog

from gateway.cli import main
from gateway.testing import GatewayHandle, running_gateway
from gateway.trust import SigningKey
from tests.exchange.conftest import DIAGNOSIS, example

HOSPITAL = "330784.health.h001"


class Admin:
    """Runs ``gateway admin`` against one gateway; returns (exit status, stdout JSON, stderr)."""

    def __init__(self, gw: GatewayHandle, capsys: pytest.CaptureFixture[str]) -> None:
        self.gw = gw
        self.capsys = capsys

    async def __call__(self, *argv: str, token: str | None = None) -> tuple[int, Any, str]:
        auth = (
            ["--token", token] if token else ["--token-file", str(self.gw.data_dir / "admin-token")]
        )
        self.capsys.readouterr()
        with structlog.testing.capture_logs():  # the gateway's log lines stay out of stdout
            status = await asyncio.to_thread(
                main, ["admin", "--url", self.gw.base_url, *auth, *argv]
            )
        out, err = self.capsys.readouterr()
        return status, json.loads(out) if out.strip() else None, err


def _public_jwk(tmp_path: Path, name: str) -> tuple[SigningKey, Path]:
    key = SigningKey.generate(f"{HOSPITAL}/{name}")
    path = tmp_path / f"{name}.public.jwk"
    path.write_text(json.dumps({k: v for k, v in key.public_jwk().items() if k != "kid"}))
    return key, path


async def test_keys_added_rotated_and_revoked_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_gateway(tmp_path / "gw") as gw:
        admin = Admin(gw, capsys)
        key, public = _public_jwk(tmp_path, "2026a")
        status, added, _ = await admin(
            "keys", "add", HOSPITAL, "--name", "2026a", "--jwk", str(public)
        )
        assert status == 0 and added["kid"] == f"{HOSPITAL}/2026a"
        client = gw.client(HOSPITAL)
        client.key = key  # the hospital signs with its new key: accepted at once
        receipt = await client.submit(DIAGNOSIS, example("medical_diagnosis"))
        assert receipt["source"] == HOSPITAL
        _, new_public = _public_jwk(tmp_path, "2026b")
        status, rotated, _ = await admin(
            "keys", "rotate", HOSPITAL, "2026a", "--name", "2026b", "--jwk", str(new_public),
            "--overlap", "30m",
        )  # fmt: skip
        assert status == 0 and rotated["new"] == f"{HOSPITAL}/2026b"
        status, revoked, _ = await admin("keys", "revoke", HOSPITAL, "2026a")
        assert status == 0 and revoked["kid"] == f"{HOSPITAL}/2026a"
        status, listed, _ = await admin("departments", "list")
        (hospital,) = [d for d in listed["departments"] if d["id"] == HOSPITAL]
        usable = {k["kid"]: k["usable"] for k in hospital["keys"]}
        assert usable[f"{HOSPITAL}/2026a"] is False and usable[f"{HOSPITAL}/2026b"] is True
        status, audit, _ = await admin("audit", "list", "--action", "key.revoked")
        assert status == 0 and [e["target"] for e in audit["entries"]] == [f"{HOSPITAL}/2026a"]


async def test_a_refusal_prints_the_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_gateway(tmp_path) as gw:
        admin = Admin(gw, capsys)
        status, out, err = await admin("departments", "disable", "330784.nowhere")
        assert (status, out) == (1, None)
        assert err.startswith("error: 404 ") and "no department with this id" in err
        assert "330784.nowhere" not in err  # a refused value is never echoed
        status, out, err = await admin("departments", "list", token="not-a-token")
        assert status == 1 and err.startswith("error: 403 ")
        bad = tmp_path / "bad.json"
        bad.write_text('{"routes": [{"name": "x"}]}')
        status, _, err = await admin("routes", "put", str(bad))
        assert status == 1 and err.startswith("error: 422 ") and "routes[0]" in err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_no_gateway_or_no_token_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["admin", "--url", url, "--token", "t", "departments", "list"]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot reach the gateway at {url}")
    missing = tmp_path / "admin-token"
    assert main(["admin", "--url", url, "--token-file", str(missing), "routes", "get"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no admin token") and str(missing) in err


async def test_get_output_round_trips_into_put_and_the_other_groups_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_gateway(tmp_path / "gw") as gw:
        admin = Admin(gw, capsys)
        status, table, _ = await admin("departments", "get", "330784.market")
        assert status == 0 and table["id"] == "330784.market"
        saved = tmp_path / "market.json"
        saved.write_text(json.dumps(table))
        assert (await admin("departments", "put", "330784.market", str(saved)))[:2] == (0, table)
        status, routes, _ = await admin("routes", "get")
        (tmp_path / "routes.json").write_text(json.dumps(routes))
        status, put, _ = await admin(
            "routes", "put", str(tmp_path / "routes.json"), "--note", "same"
        )
        assert status == 0 and put["version"] == 1
        status, versions, _ = await admin("routes", "versions")
        assert versions["active"] == 1 and versions["versions"][1]["note"] == "same"
        assert (await admin("routes", "rollback", "0"))[1] == {"active": 0}
        status, made, _ = await admin("tokens", "create", "reader", "--role", "auditor")
        assert status == 0 and made["role"] == "auditor"
        status, listed, _ = await admin("tokens", "list")
        assert {t["name"] for t in listed["tokens"]} == {"bootstrap", "reader"}
        status, _, err = await admin("dead-letters", "list", token=made["token"])
        assert status == 0
        status, _, err = await admin("tokens", "list", token=made["token"])
        assert status == 1 and err.startswith("error: 403 ")
        assert (await admin("tokens", "revoke", "reader"))[1] == {"name": "reader", "revoked": True}
        status, ran, _ = await admin("retention", "run")
        assert status == 0 and ran["purged"] == 0
        status, cases, _ = await admin("cases", "list")
        assert status == 0 and cases["cases"] == []
        status, delivery, _ = await admin(
            "departments", "delivery", "330784.market", "--mode", "push",
            "--endpoint", "https://market.example/inbound",
        )  # fmt: skip
        assert status == 0 and delivery["endpoint"] == "https://market.example/inbound"
