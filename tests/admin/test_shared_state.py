"""Several instances on one PostgreSQL database share the administration overlay: a change
made through one reaches the others, two changes at once never overwrite each other, and an
overlay kept in a data directory seeds the database."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.link import SubmitError
from gateway.testing import GatewayHandle, running_gateway
from tests.exchange.conftest import example

MARKET = "330784.market"
LICENCE = "cn.gov.zj.injury.business_licence.v1"


def admin(gw: GatewayHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {(gw.data_dir / 'admin-token').read_text().strip()}"}


async def post(gw: GatewayHandle, path: str) -> tuple[int, Any]:
    async with gw.session.post(f"{gw.base_url}{path}", headers=admin(gw)) as response:
        return response.status, await response.json(content_type=None)


async def refused(gw: GatewayHandle) -> str | None:
    try:
        await gw.client(MARKET).submit(LICENCE, example("business_licence"))
    except SubmitError as exc:
        return str(exc.problem["type"]).rsplit(":", 1)[-1]
    return None


async def test_a_change_through_one_instance_reaches_the_other(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ADMIN_POLL_SECONDS", "0.1")
    async with (
        running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as one,
        running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as two,
    ):
        assert await refused(two) is None
        assert (await post(one, f"/admin/v1/departments/{MARKET}/disable"))[0] == 200
        for _ in range(50):
            if await refused(two) == "department-disabled":
                break
            await asyncio.sleep(0.1)
        assert await refused(two) == "department-disabled"


async def test_changes_at_once_through_two_instances_do_not_overwrite(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ADMIN_POLL_SECONDS", "600")  # neither looks by itself
    async with (
        running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as one,
        running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as two,
    ):
        assert (await post(one, f"/admin/v1/departments/{MARKET}/disable"))[0] == 200
        status, problem = await post(two, "/admin/v1/departments/330700.nfra/disable")
        assert status == 409 and problem["type"].endswith("admin-state-changed")
        # the refused instance took the other's change and a retry keeps both
        assert await refused(two) == "department-disabled"
        assert (await post(two, "/admin/v1/departments/330700.nfra/disable"))[0] == 200
    async with running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as three:
        states = {d["id"]: d["enabled"] for d in await departments(three)}
        assert states[MARKET] is False and states["330700.nfra"] is False


async def departments(gw: GatewayHandle) -> list[dict[str, Any]]:
    async with gw.session.get(f"{gw.base_url}/admin/v1/departments", headers=admin(gw)) as r:
        body: dict[str, Any] = await r.json()
        return list(body["departments"])


async def test_the_database_holds_the_overlay_not_the_data_directory(
    tmp_path: Path, pg_url: str
) -> None:
    first = tmp_path / "first"
    async with running_gateway(first, database=pg_url, run_dispatcher=False) as one:
        assert (await post(one, f"/admin/v1/departments/{MARKET}/disable"))[0] == 200
    second = tmp_path / "second"
    shutil.copytree(first, second)
    (second / "admin-state.json").unlink()  # a new instance's own directory, without it
    async with running_gateway(second, database=pg_url, run_dispatcher=False) as two:
        assert await refused(two) == "department-disabled"


async def test_an_existing_overlay_seeds_an_empty_database(tmp_path: Path, pg_url: str) -> None:
    async with running_gateway(tmp_path, run_dispatcher=False) as sqlite_instance:  # SQLite
        assert (await post(sqlite_instance, f"/admin/v1/departments/{MARKET}/disable"))[0] == 200
    async with running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as moved:
        assert await refused(moved) == "department-disabled"
    (tmp_path / "admin-state.json").unlink()
    async with running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as again:
        assert await refused(again) == "department-disabled"
