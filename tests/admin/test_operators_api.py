"""The administrators' calls added for the operators' side: tokens through the API, a
department's table and delivery, round trips of GET into PUT, retention now, and reload."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiohttp

from gateway.clock import ManualClock
from gateway.packaged import default_config_dir
from gateway.testing import GatewayHandle, default_config, running_gateway
from tests.exchange.conftest import DIAGNOSIS, FlakyEndpoint, example, serve

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"


class Api:
    """``/admin/v1`` with one token; returns (status, JSON body)."""

    def __init__(self, gw: GatewayHandle, token: str | None = None) -> None:
        self.gw = gw
        self.token = token or (gw.data_dir / "admin-token").read_text().strip()

    async def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.gw.session.request(
            method, f"{self.gw.base_url}/admin/v1{path}", json=body, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)


async def test_tokens_created_listed_used_and_revoked(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        admin = Api(gw)
        status, made = await admin("POST", "/tokens", {"name": "night", "role": "operator"})
        assert status == 201 and made["role"] == "operator" and len(made["token"]) >= 40
        operator = Api(gw, made["token"])
        assert (await operator("GET", "/dead-letters"))[0] == 200
        status, refused = await operator("PUT", "/routes", {"routes": []})
        assert status == 403 and refused["type"].endswith("role-forbidden")
        status, listed = await admin("GET", "/tokens")
        by_name = {t["name"]: t for t in listed["tokens"]}
        assert by_name["night"]["role"] == "operator" and by_name["night"]["usable"]
        assert by_name["bootstrap"]["role"] == "admin"
        assert all("token" not in t and "sha256" not in t for t in listed["tokens"])
        assert made["token"] not in (gw.data_dir / "admin-state.json").read_text()
        assert (await admin("POST", "/tokens", {"name": "night", "role": "admin"}))[0] == 409
        status, bad = await admin("POST", "/tokens", {"name": "x y", "role": "root"})
        assert status == 400 and {e["pointer"] for e in bad["errors"]} == {"/name", "/role"}
        assert (await admin("DELETE", "/tokens/night"))[0] == 200
        assert (await operator("GET", "/dead-letters"))[0] == 403  # revoked at once
        assert (await admin("DELETE", "/tokens/night"))[0] == 404
        status, last = await admin("DELETE", "/tokens/bootstrap")
        assert status == 409 and last["type"].endswith("last-admin-token")
        status, audit = await admin("GET", "/audit?action=admin_token.revoked")
        assert [e["target"] for e in audit["entries"]] == ["night"]


async def test_a_department_round_trips_and_its_delivery_changes(
    tmp_path: Path, database: str | None
) -> None:
    endpoint = FlakyEndpoint()
    endpoint.up = True
    async with (
        serve(endpoint.app()) as url,
        running_gateway(tmp_path, database=database, run_dispatcher=False) as gw,
    ):
        admin = Api(gw)
        status, table = await admin("GET", f"/departments/{RECOGNITION}")
        assert status == 200 and table["delivery"]["mode"] == "pull"
        assert None not in table.values() and "keys" not in table
        assert (await admin("PUT", f"/departments/{RECOGNITION}", table)) == (200, table)
        status, delivery = await admin(
            "PUT", f"/departments/{RECOGNITION}/delivery",
            {"mode": "push", "endpoint": f"{url}/inbound", "timeout": "2s"},
        )  # fmt: skip
        assert status == 200
        assert delivery == {
            "mode": "push", "endpoint": f"{url}/inbound", "timeout": "2s", "concurrency": 4,
        }  # fmt: skip
        await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        await gw.dispatcher.run_once()  # the next attempt pushes to the new endpoint
        assert len(endpoint.received) == 1
        status, bad = await admin("PUT", f"/departments/{RECOGNITION}/delivery", {"mode": "push"})
        assert status == 422 and "endpoint" in bad["detail"]
        status, bad = await admin("PUT", f"/departments/{RECOGNITION}", {**table, "keys": []})
        assert status == 422
        status, keys = await admin("GET", f"/departments/{HOSPITAL}/keys")
        assert keys["keys"][0]["kid"] == f"{HOSPITAL}/dev" and keys["keys"][0]["usable"]
        assert (await admin("GET", "/departments/330784.nowhere"))[0] == 404


async def test_routes_get_round_trips_into_put(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        admin = Api(gw)
        status, table = await admin("GET", "/routes")
        pointed = [r for r in table["routes"] if "to_pointer" in r]
        assert pointed and all(None not in r.values() for r in table["routes"])
        status, put = await admin("PUT", "/routes", table)
        assert status == 200 and put["routes"] == len(table["routes"])
        assert (await admin("GET", "/routes")) == (200, table)


async def test_an_added_department_is_labelled_by_its_id(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gw:
        added = {
            "id": "330784.health.h002",
            "name": "second hospital",
            "sends": [DIAGNOSIS],
            "receives": ["cn.gov.zj.injury.recognition_decision.v1"],
            "delivery": {"mode": "pull"},
        }
        assert (await Api(gw)("POST", "/departments", added))[0] == 201
        async with gw.session.get(f"{gw.base_url}/metrics") as response:
            text = await response.text()
    assert 'zjx_breaker_open{recipient="330784.health.h002"} 0.0' in text
    assert 'zjx_deliveries_pending{recipient="330784.health.h002"} 0.0' in text
    assert gw.metrics.dept_label("330784.health.h002") == "330784.health.h002"
    assert 'recipient="other"' not in text


async def test_retention_runs_now(tmp_path: Path, database: str | None) -> None:
    clock = ManualClock()
    async with running_gateway(tmp_path, clock=clock, database=database) as gw:
        receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        for recipient in receipt["recipients"]:
            await gw.client(recipient).ack([receipt["sequence"]])
        admin = Api(gw)
        assert (await admin("POST", "/retention/run"))[1]["purged"] == 0  # not old enough
        clock.advance(gw.config.gateway.retention * 2)
        status, ran = await admin("POST", "/retention/run")
        assert status == 200 and ran["purged"] == 1
        assert await gw.store.get_message(receipt["sequence"]) is None


def _config_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(default_config_dir(), directory)
    return directory


async def test_reload_swaps_in_checked_files_or_keeps_the_old_ones(tmp_path: Path) -> None:
    directory = _config_copy(tmp_path)
    config = default_config(config_dir=directory)
    async with running_gateway(tmp_path / "data", config=config) as gw:
        admin = Api(gw)
        routes = directory / "routes.toml"
        good = routes.read_text()
        routes.write_text(good.replace('name = "witness-to-recognition"', 'name = "witness"'))
        (directory / "gateway.toml").write_text(
            (directory / "gateway.toml").read_text().replace('cooldown = "30s"', 'cooldown = "45s"')
        )
        status, done = await admin("POST", "/reload")
        assert status == 200 and done["reloaded"] is True
        assert "witness" in {r.name for r in gw.config.routes}
        assert gw.config.breaker.cooldown.total_seconds() == 45
        assert gw.dispatcher.breakers.policy.cooldown.total_seconds() == 45
        # two broken files: both errors answered, the running configuration unchanged
        routes.write_text(good.replace('to = ["330784.hrss.recognition"]', 'to = ["330784.x"]'))
        departments = directory / "departments.toml"
        departments.write_text(departments.read_text().replace('id = "330784.zlb"', 'id = "x"', 1))
        status, refused = await admin("POST", "/reload")
        assert status == 422 and refused["type"].endswith("config-invalid")
        assert len(refused["config_errors"]) == 2
        assert "departments.toml" in refused["config_errors"][0]
        assert "witness" in {r.name for r in gw.config.routes}
        status, audit = await admin("GET", "/audit?action=config.reload_refused")
        assert audit["entries"][0]["actor"] == "admin:bootstrap"


async def test_reload_keeps_the_administrators_changes(tmp_path: Path) -> None:
    directory = _config_copy(tmp_path)
    config = default_config(config_dir=directory)
    async with running_gateway(tmp_path / "data", config=config) as gw:
        admin = Api(gw)
        assert (await admin("POST", "/departments/330784.market/disable"))[0] == 200
        assert (await admin("POST", "/reload"))[0] == 200
        assert gw.config.departments["330784.market"].enabled is False
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{gw.base_url}/admin/v1/reload") as response:
                assert response.status == 401  # no token
