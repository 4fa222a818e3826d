"""The OpenAPI description matches the routes the app really serves, and lists the problem
types each operation can answer with, from the catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gateway.problem_types import PROBLEM_BASE, catalogue
from gateway.testing import running_gateway

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
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
            spec = json.loads(await response.read())
    assert spec["openapi"].startswith("3.1")
    assert served == _spec_operations(spec)


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


# Types no operation answers with: unknown routes and methods (the middleware), the abstract
# roots, and what only the command line or an adapter meets.
NOT_PER_OPERATION = {
    "method-not-allowed",
    "http-error",
    "unauthorized",
    "forbidden",
    "conflict",
    "invalid-key",  # only in key bodies: listed where keys are added
    "configuration",  # gateway serve refuses to start; the command line
    "key-file",  # gateway serve / gateway sign
    "client-closed-request",  # the client is gone: nobody receives it
    "receipt-mismatch",  # an adapter checking its receipt
}


async def test_every_operation_lists_its_problem_types(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gw:
        async with gw.session.get(f"{gw.base_url}/openapi.json") as response:
            spec = json.loads(await response.read())
    listed: dict[tuple[str, str], set[str]] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            types = listed.setdefault((method, path), set())
            for status, answer in operation["responses"].items():
                content = answer.get("content", {}).get("application/problem+json")
                if content is None:
                    continue
                enum = content["schema"]["properties"]["type"]["enum"]
                assert all(t.startswith(PROBLEM_BASE) for t in enum)
                types |= {t.removeprefix(PROBLEM_BASE) for t in enum}
                statuses = {p.status for p in catalogue() if p.uri in enum}
                assert statuses == {int(status)}, (method, path, status)
    assert all("internal" in types for types in listed.values())
    # /readyz answers 503 with its own body (not ready), not a problem
    assert [op for op, types in listed.items() if "store-unavailable" not in types] == [
        ("get", "/readyz")
    ]
    assert {"token-missing", "token-replayed", "message-not-found"} <= listed[
        ("get", "/v1/messages/{id}")
    ]
    submit = listed[("post", "/v1/messages")]
    assert {"invalid-document", "unknown-key", "id-reused", "unroutable"} <= submit
    assert "role-forbidden" in listed[("put", "/admin/v1/routes")]
    # a path parameter of the wrong shape misses its route: the router's not-found
    assert "not-found" in listed[("post", "/admin/v1/routes/versions/{version}/rollback")]
    assert "not-found" not in listed[("get", "/admin/v1/routes")]
    named = set().union(*listed.values())
    assert {p.slug for p in catalogue()} - named == NOT_PER_OPERATION - {"invalid-key"}
    assert "invalid-key" in listed[("post", "/admin/v1/departments/{dept}/keys")]
    titles = {p["type"]: (p["title"], p["title_zh"]) for p in spec["x-problem-types"]}
    assert titles[PROBLEM_BASE + "key-revoked"] == ("Key revoked", "密钥已吊销")
    assert len(titles) == len(list(catalogue()))
