"""Response helpers: JSON via orjson, and RFC 9457 problem bodies."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gateway.problems import GatewayError

PROBLEM_TYPE = "application/problem+json"


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def problem_response(error: GatewayError, instance: str | None = None) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return web.Response(
        body=orjson.dumps(error.problem_body(instance)),
        status=error.status,
        content_type=PROBLEM_TYPE,
        headers=headers,
    )
