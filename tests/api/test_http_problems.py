"""HTTP-level problems: a 405 says what is allowed (RFC 9110 section 15.5.6), and a problem
names its occurrence by the request id, never echoing a refused value (path, query)."""

from __future__ import annotations

from pathlib import Path

from gateway.testing import running_gateway

SECRET_LOOKING = "330784.zz-110101199003077777"


async def test_405_carries_allow_and_instance_is_the_request_id(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gw:
        async with gw.session.delete(f"{gw.base_url}/v1/messages") as response:
            assert response.status == 405
            assert response.headers["Allow"] == "POST"
            problem = await response.json(content_type=None)
            rid = response.headers["X-Request-Id"]
        assert problem["type"].endswith("method-not-allowed")
        assert problem["instance"] == f"urn:zj-exchange:request:{rid}"
        async with gw.session.request("TRACE", f"{gw.base_url}/admin/v1/routes") as response:
            assert response.status == 405
            assert response.headers["Allow"] == "GET, HEAD, PUT"


async def test_a_refused_value_is_not_echoed(tmp_path: Path) -> None:
    token = tmp_path / "admin-token"
    async with running_gateway(tmp_path) as gw:
        headers = {"Authorization": f"Bearer {token.read_text().strip()}"}
        for method, path in (
            ("POST", f"/admin/v1/departments/{SECRET_LOOKING}/disable"),
            ("GET", f"/admin/v1/departments/{SECRET_LOOKING}"),
            ("POST", f"/admin/v1/departments/330784.zlb/keys/{SECRET_LOOKING}/revoke"),
            ("DELETE", f"/admin/v1/tokens/{SECRET_LOOKING}"),
            ("GET", f"/admin/v1/cases/{SECRET_LOOKING}"),
            ("GET", f"/nowhere/{SECRET_LOOKING}"),
        ):
            async with gw.session.request(
                method, f"{gw.base_url}{path}", headers=headers
            ) as response:
                body = await response.text()
                assert response.status == 404, (method, path, body)
                assert "110101199003077777" not in body, (method, path, body)
