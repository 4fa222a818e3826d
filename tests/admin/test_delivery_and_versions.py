"""Admin calls the console needed and the API now has too: delivery mode and endpoint, the
route table's round trip and its versions, and verifying the audit chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.api.appkeys import ADMIN_TOKENS
from gateway.testing import GatewayHandle, running_gateway
from tests.exchange.conftest import DIAGNOSIS, FlakyEndpoint, example, serve

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"
PROBLEM = "urn:zj-exchange:problem:"


def _headers(gw: GatewayHandle, role: str = "admin") -> dict[str, str]:
    if role == "admin":
        return {"Authorization": f"Bearer {(gw.data_dir / 'admin-token').read_text().strip()}"}
    gw.app[ADMIN_TOKENS].add(f"{role}-1", role, f"{role}-token-for-tests")
    return {"Authorization": f"Bearer {role}-token-for-tests"}


async def _call(
    gw: GatewayHandle, method: str, path: str, headers: dict[str, str], json: Any = None
) -> tuple[int, Any]:
    async with gw.session.request(
        method, f"{gw.base_url}{path}", headers=headers, json=json
    ) as response:
        return response.status, await response.json(content_type=None)


async def test_delivery_switched_to_push_reaches_the_new_endpoint_and_survives_restart(
    tmp_path: Path, database: str | None
) -> None:
    endpoint = FlakyEndpoint()
    endpoint.up = True
    path = f"/admin/v1/departments/{RECOGNITION}/delivery"
    async with serve(endpoint.app()) as url:
        async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
            admin = _headers(gw)
            status, problem = await _call(gw, "PUT", path, admin, {"mode": "push"})
            assert (status, problem["type"]) == (422, PROBLEM + "invalid-department")
            assert "endpoint" in problem["detail"]
            status, problem = await _call(
                gw, "PUT", path, _headers(gw, "operator"), {"mode": "pull"}
            )
            assert (status, problem["type"]) == (403, PROBLEM + "role-forbidden")

            table = {"mode": "push", "endpoint": f"{url}/inbound", "timeout": "2s"}
            status, body = await _call(gw, "PUT", path, admin, table)
            assert (status, body) == (
                200,
                {"mode": "push", "endpoint": f"{url}/inbound", "timeout": "2s", "concurrency": 4},
            )
            receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
            assert gw.dispatcher is not None
            assert await gw.dispatcher.run_once() == 1
            assert len(endpoint.received) == 1
            deliveries = {
                d.recipient: d for d in await gw.store.deliveries_for(receipt["sequence"])
            }
            assert (deliveries[RECOGNITION].mode, deliveries[RECOGNITION].state) == (
                "push",
                "delivered",
            )
            _, audit = await _call(
                gw, "GET", "/admin/v1/audit?action=department.delivery_changed", admin
            )
            assert [e["target"] for e in audit["entries"]] == [RECOGNITION]
        async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
            _, listed = await _call(gw, "GET", "/admin/v1/departments", _headers(gw))
            (found,) = [d for d in listed["departments"] if d["id"] == RECOGNITION]
            assert (found["delivery"], found["endpoint"], found["endpoint_gone"]) == (
                "push",
                f"{url}/inbound",
                None,
            )


async def test_route_table_round_trips_and_versions_are_readable(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        admin = _headers(gw)
        _, table = await _call(gw, "GET", "/admin/v1/routes", admin)
        assert all(route.get("to_pointer", "/") is not None for route in table["routes"])
        status, put = await _call(gw, "PUT", "/admin/v1/routes", admin, table)
        assert (status, put["version"]) == (200, 1)
        _, again = await _call(gw, "GET", "/admin/v1/routes", admin)
        assert again == table
        status, v0 = await _call(gw, "GET", "/admin/v1/routes/versions/0", admin)
        assert (status, v0["routes"]) == (200, table["routes"])
        _, v1 = await _call(gw, "GET", "/admin/v1/routes/versions/1", admin)
        assert v1["routes"] == table["routes"]
        status, problem = await _call(gw, "GET", "/admin/v1/routes/versions/2", admin)
        assert (status, problem["type"]) == (404, PROBLEM + "route-version-not-found")


async def test_audit_chain_verified_through_the_api(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        admin = _headers(gw)
        await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        await _call(gw, "POST", f"/admin/v1/departments/{RECOGNITION}/disable", admin)
        _, entries = await _call(gw, "GET", "/admin/v1/audit?limit=1000", admin)
        status, verdict = await _call(gw, "GET", "/admin/v1/audit/verify", admin)
        assert status == 200
        assert verdict["intact"] is True
        assert verdict["entries"] == len(entries["entries"]) >= 2
        assert verdict["head"] == entries["entries"][-1]["hash"]
        _, found = await _call(gw, "GET", f"/admin/v1/audit?text={RECOGNITION[-11:]}", admin)
        assert [e["action"] for e in found["entries"]] == ["department.disabled"]
        status, problem = await _call(gw, "GET", "/admin/v1/audit/verify", _headers(gw, "operator"))
        assert (status, problem["type"]) == (403, PROBLEM + "role-forbidden")
