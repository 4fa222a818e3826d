"""Route replacement under load, versions and rollback, key addition and rotation."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.link import GatewayClient, SubmitError
from gateway.clock import ManualClock
from gateway.testing import GatewayHandle, running_gateway
from gateway.trust import SigningKey
from tests.admin.test_admin_api import _call, _token
from tests.exchange.conftest import DIAGNOSIS, example

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"
ASSESSMENT = "330700.hrss.assessment"
MEDINSURANCE = "330784.medinsurance"
PROBLEM = "urn:zj-exchange:problem:"


async def _routes(gw: GatewayHandle) -> list[dict[str, Any]]:
    status, body = await _call(gw, "GET", "/admin/v1/routes", _token(gw))
    assert status == 200
    routes: list[dict[str, Any]] = body["routes"]
    return routes


def _without_recognition(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed = []
    for route in routes:
        route = {k: v for k, v in route.items() if v not in (None, {}, [])}
        if route["type"] == DIAGNOSIS:
            route["to"] = [t for t in route["to"] if t != RECOGNITION]
        changed.append(route)
    return changed


async def test_route_change_under_load_fails_nothing(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        hospital = gw.client(HOSPITAL)
        hospital.attempts = 1
        new_routes = _without_recognition(await _routes(gw))
        bodies = [
            hospital.sign(DIAGNOSIS, example("medical_diagnosis"), event_id=f"l-{i}")
            for i in range(200)
        ]

        async def change() -> int:
            await asyncio.sleep(0.05)
            status, _ = await _call(
                gw,
                "PUT",
                "/admin/v1/routes",
                _token(gw),
                json={"routes": new_routes, "note": "under load"},
            )
            return status

        results = await asyncio.gather(change(), *(hospital.submit_signed(b) for b in bodies))
        assert results[0] == 200
        receipts = results[1:]
        assert len(receipts) == 200  # every submission got its 202 receipt
        after = await hospital.submit(DIAGNOSIS, example("medical_diagnosis"), event_id="after")
        assert RECOGNITION not in after["recipients"]
        assert set(after["recipients"]) == {ASSESSMENT, MEDINSURANCE}


async def test_versions_rollback_and_restart(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        routes = _without_recognition(await _routes(gw))
        status, body = await _call(
            gw, "PUT", "/admin/v1/routes", _token(gw), json={"routes": routes}
        )
        assert (status, body["version"]) == (200, 1)
    async with running_gateway(tmp_path, database=database) as gw:  # survives a restart
        receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        assert RECOGNITION not in receipt["recipients"]
        status, versions = await _call(gw, "GET", "/admin/v1/routes/versions", _token(gw))
        assert versions["active"] == 1 and len(versions["versions"]) == 2
        status, _ = await _call(gw, "POST", "/admin/v1/routes/versions/0/rollback", _token(gw))
        assert status == 200
        receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        assert RECOGNITION in receipt["recipients"]
        status, audit = await _call(gw, "GET", "/admin/v1/audit?limit=1000", _token(gw))
        actions = [e["action"] for e in audit["entries"]]
        assert "routes.replaced" in actions and "routes.rolled_back" in actions


async def test_invalid_route_table_is_refused_and_nothing_changes(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        bad = [{"name": "x", "type": DIAGNOSIS, "to": ["330784.nosuch"]}]
        status, problem = await _call(
            gw, "PUT", "/admin/v1/routes", _token(gw), json={"routes": bad}
        )
        assert (status, problem["type"]) == (422, PROBLEM + "invalid-routes")
        assert "routes[0].to[0]" in problem["detail"]
        status, versions = await _call(gw, "GET", "/admin/v1/routes/versions", _token(gw))
        assert versions["active"] == 0


async def test_add_and_rotate_keys_with_an_overlap(tmp_path: Path, database: str | None) -> None:
    clock = ManualClock()
    async with running_gateway(tmp_path, clock=clock, database=database) as gw:
        new = SigningKey.generate(f"{HOSPITAL}/k2")
        public = {k: v for k, v in new.public_jwk().items() if k != "kid"}
        rotate = f"/admin/v1/departments/{HOSPITAL}/keys/dev/rotate"
        # an unreadable overlap is the caller's fault: 400, nothing changed (it was a 500)
        bad = {"new": {"name": "k2", "jwk": public}, "overlap": "an hour"}
        status, problem = await _call(gw, "POST", rotate, _token(gw), json=bad)
        assert (status, problem["type"]) == (400, PROBLEM + "invalid-body"), problem
        status, body = await _call(gw, "POST", rotate, _token(gw), json={**bad, "overlap": "1h"})
        assert status == 200, body
        old_client = gw.client(HOSPITAL)
        new_client = GatewayClient(
            gw.base_url, HOSPITAL, new, gw.gateway_id, gw.session, clock=clock
        )
        await old_client.submit(DIAGNOSIS, example("medical_diagnosis"))  # inside the overlap
        await new_client.submit(DIAGNOSIS, example("medical_diagnosis"))
        clock.advance(timedelta(hours=1, seconds=1))
        with pytest.raises(SubmitError) as caught:
            await old_client.submit(DIAGNOSIS, example("medical_diagnosis"))
        assert caught.value.problem["type"] == PROBLEM + "key-expired"
        await new_client.submit(DIAGNOSIS, example("medical_diagnosis"))
        # a key is never replaced; a private key is refused
        status, problem = await _call(
            gw,
            "POST",
            f"/admin/v1/departments/{HOSPITAL}/keys",
            _token(gw),
            json={"name": "k2", "jwk": public},
        )
        assert (status, problem["type"]) == (409, PROBLEM + "key-exists")
        status, problem = await _call(
            gw,
            "POST",
            f"/admin/v1/departments/{HOSPITAL}/keys",
            _token(gw),
            json={"name": "k3", "jwk": new.private_jwk()},
        )
        assert status == 422
        assert new.private_jwk()["d"] not in str(problem)


async def test_add_a_department_then_its_key_then_it_sends(
    tmp_path: Path, database: str | None
) -> None:
    new_dept = "330784.health.h002"
    async with running_gateway(tmp_path, database=database) as gw:
        table = {
            "id": new_dept,
            "name": "Second hospital",
            "sends": [DIAGNOSIS],
            "receives": [],
            "delivery": {"mode": "pull"},
        }
        status, body = await _call(gw, "POST", "/admin/v1/departments", _token(gw), json=table)
        assert status == 201, body
        status, problem = await _call(gw, "POST", "/admin/v1/departments", _token(gw), json=table)
        assert (status, problem["type"]) == (409, PROBLEM + "department-exists")
        status, problem = await _call(
            gw, "POST", "/admin/v1/departments", _token(gw), json={**table, "id": "not an id"}
        )
        assert (status, problem["type"]) == (422, PROBLEM + "invalid-department")
        key = SigningKey.generate(f"{new_dept}/k1")
        public = {k: v for k, v in key.public_jwk().items() if k != "kid"}
        status, _ = await _call(
            gw,
            "POST",
            f"/admin/v1/departments/{new_dept}/keys",
            _token(gw),
            json={"name": "k1", "jwk": public},
        )
        assert status == 201
        client = GatewayClient(gw.base_url, new_dept, key, gw.gateway_id, gw.session)
        receipt = await client.submit(DIAGNOSIS, example("medical_diagnosis"))
        assert RECOGNITION in receipt["recipients"]
    async with running_gateway(tmp_path, database=database) as gw:  # both survive a restart
        client = GatewayClient(gw.base_url, new_dept, key, gw.gateway_id, gw.session)
        await client.submit(DIAGNOSIS, example("medical_diagnosis"))
