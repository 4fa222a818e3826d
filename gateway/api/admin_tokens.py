"""``/admin/v1/tokens``: administrator tokens made, listed and revoked through the API.

A token is 256 random bits; only its SHA-256 is kept (in the administration overlay, so every
instance on a shared store knows it once it takes the change), and the clear token is in the
``201`` answer and nowhere else. Names are never reused, revoked ones included, so the audit
trail's ``admin:<name>`` always means one token. The last usable ``admin`` token cannot be
revoked: nobody could administer the gateway afterwards.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.administration import ADMIN_ONLY, ROLES, AdminState
from gateway.administration.tokens import new_token
from gateway.api.admin import json_body, require
from gateway.api.appkeys import ADMIN_TOKENS, ADMINISTRATION, CLOCK
from gateway.api.openapi import ADMIN_AUTH, ADMIN_CHANGE, STRICT_JSON, answers
from gateway.api.responses import json_response
from gateway.clock import utc_iso
from gateway.configuration.loader import KEY_NAME
from gateway.problem_types import (
    ADMIN_TOKEN_EXISTS,
    ADMIN_TOKEN_NOT_FOUND,
    INVALID_BODY,
    LAST_ADMIN_TOKEN,
)
from gateway.problems import ConflictError, MessageError, NotFoundError, Violation

routes = web.RouteTableDef()


@routes.get("/admin/v1/tokens")
@answers(ADMIN_AUTH)
async def list_tokens(request: web.Request) -> web.Response:
    require(request, ADMIN_ONLY)
    tokens = request.app[ADMIN_TOKENS]
    issued = request.app[ADMINISTRATION].state.tokens
    usable = {t.name for t in tokens.usable()}
    listed = []
    for token in sorted(tokens.names()):
        record = issued.get(token, {})
        listed.append(
            {
                "name": token,
                "role": record.get("role") or _file_role(request, token),
                "usable": token in usable,
                "created_at": record.get("at"),
                "created_by": record.get("by"),
            }
        )
    return json_response({"tokens": listed})


def _file_role(request: web.Request, name: str) -> str:
    return next((t.role for t in request.app[ADMIN_TOKENS].file_tokens() if t.name == name), "")


@routes.post("/admin/v1/tokens")
@answers(ADMIN_CHANGE, STRICT_JSON, INVALID_BODY, ADMIN_TOKEN_EXISTS)
async def create_token(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    name, role = _token_request(await json_body(request))
    clear, digest = new_token()
    at = utc_iso(request.app[CLOCK].now())
    taken = request.app[ADMIN_TOKENS].names()

    def change(state: AdminState) -> AdminState:
        if name in taken or name in state.tokens:
            raise ConflictError(
                "a token with this name exists or existed; names are never reused",
                ADMIN_TOKEN_EXISTS,
            )
        record = {"role": role, "sha256": digest, "at": at, "by": f"admin:{who.name}"}
        return state.with_token(name, record)

    await request.app[ADMINISTRATION].change(
        who, change, "admin_token.created", name, {"role": role}
    )
    return json_response({"name": name, "role": role, "token": clear, "created": at}, status=201)


def _token_request(body: dict[str, Any]) -> tuple[str, str]:
    name, role = body.get("name"), body.get("role")
    extra = sorted(set(body) - {"name", "role"})
    problems = []
    if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
        problems.append(Violation("/name", "1-64 letters, digits, '.', '_' or '-'"))
    if role not in ROLES:
        problems.append(Violation("/role", f"one of {', '.join(ROLES)}"))
    problems += [Violation(f"/{key}", "not a member of a token request") for key in extra]
    if problems:
        raise MessageError(
            'send {"name": ..., "role": "admin" | "operator" | "auditor"}',
            INVALID_BODY,
            violations=problems,
        )
    assert isinstance(name, str) and isinstance(role, str)
    return name, role


@routes.delete("/admin/v1/tokens/{name}")
@answers(ADMIN_CHANGE, ADMIN_TOKEN_NOT_FOUND, LAST_ADMIN_TOKEN)
async def revoke_token(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    name = request.match_info["name"]
    tokens = request.app[ADMIN_TOKENS]
    usable = {t.name: t.role for t in tokens.usable()}
    if name not in usable:
        raise NotFoundError("no usable token with this name", ADMIN_TOKEN_NOT_FOUND)
    if usable[name] == "admin" and list(usable.values()).count("admin") == 1:
        raise ConflictError(
            "this is the last usable admin token: make another admin token first",
            LAST_ADMIN_TOKEN,
        )
    await request.app[ADMINISTRATION].change(
        who, lambda state: state.with_token_revoked(name), "admin_token.revoked", name
    )
    return json_response({"name": name, "revoked": True})
