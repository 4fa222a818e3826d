"""Who is calling: department tokens for the department API, bearer tokens for /admin."""

from __future__ import annotations

from aiohttp import web

from gateway.api.appkeys import CLOCK, DEPARTMENT_TOKENS, STORE
from gateway.problem_types import TOKEN_MISSING
from gateway.problems import AuthError, TokenReplayedError


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(
            "this call needs 'Authorization: Bearer <token>' with a token your department "
            "signed for the gateway",
            problem=TOKEN_MISSING,
        )
    return token.strip()


async def department(request: web.Request) -> str:
    """The calling department, from a short-lived single-use token it signed.

    Single use across instances: this instance's memory refuses a token it has seen; a
    store shared by several instances (PostgreSQL) records each token too, so a token used
    on one instance is refused on the others.
    """
    token = request.app[DEPARTMENT_TOKENS].verify_token(bearer(request))
    store = request.app[STORE]
    if store.capabilities.token_uses and not await store.claim_token(
        token.replay_key, token.expires, request.app[CLOCK].now()
    ):
        raise TokenReplayedError("the token was already used; tokens are single use")
    return token.department
