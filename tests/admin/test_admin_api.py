"""Administration calls: roles, persistence across restart, effect on the next message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.link import SubmitError
from gateway.api.appkeys import ADMIN_TOKENS
from gateway.testing import GatewayHandle, running_gateway
from gateway.trust import issue_token
from tests.exchange.conftest import DIAGNOSIS, example

HOSPITAL = "330784.health.h001"
MEDINSURANCE = "330784.medinsurance"
PROBLEM = "urn:zj-exchange:problem:"


def _token(gw: GatewayHandle, role: str = "admin") -> dict[str, str]:
    if role == "admin":
        token = (gw.data_dir / "admin-token").read_text().strip()
    else:
        token = f"{role}-token-for-tests"
        gw.app[ADMIN_TOKENS].add(f"{role}-1", role, token)
    return {"Authorization": f"Bearer {token}"}


async def _call(
    gw: GatewayHandle, method: str, path: str, headers: dict[str, str], json: Any = None
) -> tuple[int, Any]:
    async with gw.session.request(
        method, f"{gw.base_url}{path}", headers=headers, json=json
    ) as response:
        return response.status, await response.json(content_type=None)


async def test_auditor_reads_but_cannot_change(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        auditor = _token(gw, "auditor")
        status, body = await _call(gw, "GET", "/admin/v1/departments", auditor)
        assert status == 200 and len(body["departments"]) == 13
        assert (await _call(gw, "GET", "/admin/v1/audit", auditor))[0] == 200
        for path in (
            f"/admin/v1/departments/{HOSPITAL}/disable",
            f"/admin/v1/departments/{HOSPITAL}/keys/dev/revoke",
            f"/admin/v1/dead-letters/1/{MEDINSURANCE}/discard",
        ):
            status, problem = await _call(gw, "POST", path, auditor)
            assert (status, problem["type"]) == (403, PROBLEM + "role-forbidden")


async def test_department_token_cannot_reach_admin(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        token = issue_token(gw.key(HOSPITAL), gw.gateway_id, now=gw.clock.now())
        status, problem = await _call(
            gw, "GET", "/admin/v1/departments", {"Authorization": f"Bearer {token}"}
        )
        assert (status, problem["type"]) == (403, PROBLEM + "admin-token-invalid")
        status, _ = await _call(gw, "GET", "/admin/v1/routes", {})
        assert status == 401


async def test_revoked_key_refused_on_the_next_message_and_after_restart(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        client = gw.client(HOSPITAL)
        await client.submit(DIAGNOSIS, example("medical_diagnosis"), event_id="before")
        status, _ = await _call(
            gw, "POST", f"/admin/v1/departments/{HOSPITAL}/keys/dev/revoke", _token(gw)
        )
        assert status == 200
        with pytest.raises(SubmitError) as caught:
            await client.submit(DIAGNOSIS, example("medical_diagnosis"), event_id="after")
        assert caught.value.problem["type"] == PROBLEM + "key-revoked"
        status, audit = await _call(gw, "GET", "/admin/v1/audit?action=key.revoked", _token(gw))
        assert [(e["target"], e["actor"]) for e in audit["entries"]] == [
            (f"{HOSPITAL}/dev", "admin:bootstrap")
        ]
    async with running_gateway(tmp_path, database=database) as gw:
        with pytest.raises(SubmitError) as caught:
            await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        assert caught.value.problem["type"] == PROBLEM + "key-revoked"


async def test_disabled_department_neither_sends_nor_receives(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        headers = _token(gw)
        status, _ = await _call(
            gw, "POST", f"/admin/v1/departments/{MEDINSURANCE}/disable", headers
        )
        assert status == 200
        receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        assert MEDINSURANCE not in receipt["recipients"]
        status, _ = await _call(gw, "POST", f"/admin/v1/departments/{MEDINSURANCE}/enable", headers)
        assert status == 200
        receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
        assert MEDINSURANCE in receipt["recipients"]
        status, problem = await _call(
            gw, "POST", "/admin/v1/departments/330784.nosuch/disable", headers
        )
        assert (status, problem["type"]) == (404, PROBLEM + "department-not-found")


async def test_routes_and_dry_run(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        headers = _token(gw, "operator")
        status, body = await _call(gw, "GET", "/admin/v1/routes", headers)
        assert status == 200 and len(body["routes"]) >= 20
        signed = gw.client(HOSPITAL).sign(DIAGNOSIS, example("medical_diagnosis"))
        async with gw.session.post(
            f"{gw.base_url}/admin/v1/routes/dry-run", data=signed, headers=headers
        ) as response:
            answer = await response.json()
        assert answer["routes"] == ["diagnosis-to-procedures"]
        assert MEDINSURANCE in answer["recipients"]
        status, problem = await _call(gw, "POST", "/admin/v1/routes/dry-run", headers, json=[1])
        assert (status, problem["type"]) == (400, PROBLEM + "invalid-dry-run")
        # nothing was stored by a dry run
        assert await gw.store.get_message(1) is None


async def test_discard_unknown_dead_letter_is_404(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        status, problem = await _call(
            gw, "POST", f"/admin/v1/dead-letters/99/{MEDINSURANCE}/discard", _token(gw)
        )
        assert (status, problem["type"]) == (404, PROBLEM + "dead-letter-not-found")
