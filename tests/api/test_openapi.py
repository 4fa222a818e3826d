"""The OpenAPI description kept in the repo matches the routes the app really serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.api.operations import OPENAPI_PATH
from gateway.testing import running_gateway

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _spec_operations() -> set[tuple[str, str]]:
    spec = json.loads(OPENAPI_PATH.read_text())
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method.upper() in METHODS
    }


def _normalise(path: str) -> str:
    """aiohttp's ``{seq:\\d+}`` is OpenAPI's ``{seq}``."""
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


async def test_every_route_is_described_and_every_description_is_served(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        served = {
            (route.method, _normalise(route.resource.canonical))
            for route in gw.app.router.routes()
            if route.method in METHODS
            and route.resource is not None
            and not route.resource.canonical.startswith("/console")  # HTML pages, not the API
        }
        async with gw.session.get(f"{gw.base_url}/openapi.json") as response:
            assert response.status == 200
            assert json.loads(await response.read())["openapi"].startswith("3.1")
    assert served == _spec_operations()


async def test_operational_endpoints(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        async with gw.session.get(f"{gw.base_url}/healthz") as response:
            assert response.status == 200
        async with gw.session.get(f"{gw.base_url}/readyz") as response:
            body = await response.json()
            assert response.status == 200 and body["checks"]["store"] is True
        async with gw.session.get(f"{gw.base_url}/.well-known/jwks.json") as response:
            keys = (await response.json())["keys"]
        kids = {k["kid"] for k in keys}
        assert f"{gw.gateway_id}/dev" in kids and "330784.health.h001/dev" in kids
        assert all("d" not in k for k in keys)
