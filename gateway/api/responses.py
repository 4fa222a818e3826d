"""Response helpers: JSON via orjson, and RFC 9457 problem bodies."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gateway.language import CONTENT_LANGUAGE, Language
from gateway.problems import GatewayError

PROBLEM_TYPE = "application/problem+json"


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def problem_response(
    error: GatewayError,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    language: Language = "en",
) -> web.Response:
    """The problem in ``language`` (negotiated from ``Accept-Language``), saying so in
    ``Content-Language`` and ``Vary`` (RFC 9110 sections 8.5 and 12.5.5)."""
    headers = {
        **(headers or {}),
        "Content-Language": CONTENT_LANGUAGE[language],
        "Vary": "Accept-Language",
    }
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return web.Response(
        body=orjson.dumps(error.problem_body(instance, language)),
        status=error.status,
        content_type=PROBLEM_TYPE,
        headers=headers,
    )
