"""Who is calling: department tokens for the department API, bearer tokens for /admin."""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import RUNTIME
from gateway.problems import AuthError


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(
            "this call needs 'Authorization: Bearer <token>' with a token your department "
            "signed for the gateway",
            slug="token-missing",
        )
    return token.strip()


def department(request: web.Request) -> str:
    """The calling department, from a short-lived single-use token it signed."""
    runtime = request.app[RUNTIME]
    return runtime.tokens.verify(bearer(request))
