"""``/admin/v1``: administrator calls, bearer tokens with roles (``gateway.administration.tokens``).

Thin handlers: each checks the role, reads its parameters and body, and calls the one
implementation in ``gateway.api.admin_actions`` that the web console calls too.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gateway.administration import (
    ADMIN_ONLY,
    AUDIT_ROLES,
    READ_ROLES,
    WRITE_ROLES,
    AdminToken,
)
from gateway.api import admin_actions as actions
from gateway.api.appkeys import ADMIN_TOKENS, CLOCK
from gateway.api.auth import bearer
from gateway.api.openapi import ADMIN_AUTH, ADMIN_CHANGE, SIGNED_MESSAGE, STRICT_JSON, answers
from gateway.api.params import path_number, query_number
from gateway.api.responses import json_response
from gateway.clock import utc_iso
from gateway.configuration.loader import DEPARTMENT_ID, TEXT
from gateway.messages import strict_loads
from gateway.problem_types import (
    DEAD_LETTER_NOT_FOUND,
    DEPARTMENT_EXISTS,
    DEPARTMENT_NOT_FOUND,
    INVALID_BODY,
    INVALID_DEPARTMENT,
    INVALID_DRY_RUN,
    INVALID_KEY,
    INVALID_PARAMETER,
    INVALID_ROUTES,
    KEY_EXISTS,
    KEY_NOT_FOUND,
    ROUTE_VERSION_NOT_FOUND,
)
from gateway.problems import MessageError, Violation

routes = web.RouteTableDef()
PLAIN_TEXT = re.compile(f"^(?:{TEXT.pattern})\\Z")
AUDIT_ACTION = re.compile(r"^[a-z][a-z_]*(\.[a-z_]+){1,8}\Z")
#: a key in a request body: strict JSON, name and JWK, not taken, usable
KEY_BODY = (*STRICT_JSON, INVALID_BODY, KEY_EXISTS, INVALID_KEY)


def require(request: web.Request, roles: frozenset[str]) -> AdminToken:
    """The calling administrator, if its role is one of ``roles`` (else 403)."""
    return request.app[ADMIN_TOKENS].require(bearer(request), roles)


def department_id(request: web.Request) -> str:
    """The path's department, if there is one with this id (else 404)."""
    return actions.department_id(request.app, request.match_info["dept"])


def _check_query(name: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    """A query parameter of the shape the OpenAPI description states; 400 naming it, never
    echoing the value."""
    if pattern.fullmatch(value) is None:
        raise MessageError(
            f"query parameter {name!r} must be {what}",
            problem=INVALID_PARAMETER,
            violations=[Violation(f"/query/{name}", f"not {what}")],
        )


async def json_body(request: web.Request) -> dict[str, Any]:
    document = strict_loads(await request.read())
    if not isinstance(document, dict):
        raise MessageError("the body must be a JSON object", problem=INVALID_BODY)
    return document


# ---------------------------------------------------------------------------- dead letters


@routes.get("/admin/v1/dead-letters")
@answers(ADMIN_AUTH)
async def list_dead(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    recipient = request.query.get("recipient")
    if recipient is not None:
        _check_query("recipient", recipient, DEPARTMENT_ID, "a department id")
    found = await actions.dead_letters(request.app, recipient)
    return json_response({"dead_letters": found})


@routes.post("/admin/v1/dead-letters/{seq:\\d+}/{recipient}/replay")
@answers(ADMIN_AUTH, DEAD_LETTER_NOT_FOUND)
async def replay(request: web.Request) -> web.Response:
    who = require(request, WRITE_ROLES)
    seq, recipient = path_number(request, "seq"), request.match_info["recipient"]
    await actions.replay(request.app, who, seq, recipient)
    return json_response({"replayed": True, "sequence": seq, "recipient": recipient})


@routes.post("/admin/v1/dead-letters/{seq:\\d+}/{recipient}/discard")
@answers(ADMIN_AUTH, DEAD_LETTER_NOT_FOUND)
async def discard(request: web.Request) -> web.Response:
    who = require(request, WRITE_ROLES)
    seq, recipient = path_number(request, "seq"), request.match_info["recipient"]
    await actions.discard(request.app, who, seq, recipient)
    return json_response({"discarded": True, "sequence": seq, "recipient": recipient})


# ---------------------------------------------------------------------------- departments


@routes.get("/admin/v1/departments")
@answers(ADMIN_AUTH)
async def list_departments(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    return json_response({"departments": await actions.departments(request.app)})


@routes.post("/admin/v1/departments/{dept}/disable")
@answers(ADMIN_CHANGE, DEPARTMENT_NOT_FOUND)
async def disable_department(request: web.Request) -> web.Response:
    return await _set_enabled(request, enabled=False)


@routes.post("/admin/v1/departments/{dept}/enable")
@answers(ADMIN_CHANGE, DEPARTMENT_NOT_FOUND)
async def enable_department(request: web.Request) -> web.Response:
    return await _set_enabled(request, enabled=True)


async def _set_enabled(request: web.Request, *, enabled: bool) -> web.Response:
    who = require(request, ADMIN_ONLY)
    dept_id = request.match_info["dept"]
    await actions.set_enabled(request.app, who, dept_id, enabled)
    return json_response({"department": dept_id, "enabled": enabled})


@routes.post("/admin/v1/departments/{dept}/keys/{name}/revoke")
@answers(ADMIN_CHANGE, DEPARTMENT_NOT_FOUND, KEY_NOT_FOUND)
async def revoke_key(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    dept_id, name = request.match_info["dept"], request.match_info["name"]
    at = await actions.revoke_key(request.app, who, dept_id, name)
    return json_response({"kid": f"{dept_id}/{name}", "revoked_at": at})


@routes.post("/admin/v1/departments/{dept}/keys")
@answers(ADMIN_CHANGE, KEY_BODY, DEPARTMENT_NOT_FOUND)
async def add_key(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    dept_id = department_id(request)
    kid = await actions.add_key(request.app, who, dept_id, await json_body(request))
    now = request.app[CLOCK].now()
    return json_response({"kid": kid, "not_before": utc_iso(now)}, status=201)


@routes.post("/admin/v1/departments/{dept}/keys/{name}/rotate")
@answers(ADMIN_CHANGE, KEY_BODY, DEPARTMENT_NOT_FOUND, KEY_NOT_FOUND)
async def rotate_key(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    dept_id = department_id(request)
    body = await json_body(request)
    rotated = await actions.rotate_key(request.app, who, dept_id, request.match_info["name"], body)
    return json_response(rotated)


@routes.post("/admin/v1/departments")
@answers(ADMIN_CHANGE, STRICT_JSON, INVALID_BODY, INVALID_DEPARTMENT, DEPARTMENT_EXISTS)
async def add_department(request: web.Request) -> web.Response:
    """A new department, given as its departments.toml table in JSON (id, name, sends,
    receives, delivery). Its keys are added with the keys call; it is enabled at once."""
    who = require(request, ADMIN_ONLY)
    dept_id = await actions.add_department(request.app, who, await json_body(request))
    return json_response({"department": dept_id, "enabled": True}, status=201)


# ---------------------------------------------------------------------------------- routes


@routes.get("/admin/v1/routes")
@answers(ADMIN_AUTH)
async def list_routes(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    return json_response({"routes": actions.route_table(request.app)})


@routes.post("/admin/v1/routes/dry-run")
@answers(ADMIN_AUTH, SIGNED_MESSAGE, INVALID_DRY_RUN)
async def dry_run(request: web.Request) -> web.Response:
    """Which recipients would this event (or signed message) reach, and why: every route
    with each of its checks and the value the event holds there."""
    require(request, READ_ROLES)
    return json_response(actions.dry_run(request.app, await request.read()))


@routes.put("/admin/v1/routes")
@answers(ADMIN_CHANGE, STRICT_JSON, INVALID_BODY, INVALID_ROUTES)
async def replace_routes(request: web.Request) -> web.Response:
    """A new route table, validated against the departments, in force for the next message."""
    who = require(request, ADMIN_ONLY)
    body = await json_body(request)
    version = await actions.put_routes(request.app, who, body)
    return json_response({"version": version, "routes": len(body.get("routes", []))})


@routes.get("/admin/v1/routes/versions")
@answers(ADMIN_AUTH)
async def route_versions(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    return json_response(actions.route_versions(request.app))


@routes.get("/admin/v1/routes/versions/{version:\\d+}")
@answers(ADMIN_AUTH, ROUTE_VERSION_NOT_FOUND)
async def route_version(request: web.Request) -> web.Response:
    """The routes of one version, as PUT takes them."""
    require(request, READ_ROLES)
    version = path_number(request, "version")
    return json_response(
        {"version": version, "routes": actions.version_routes(request.app, version)}
    )


@routes.post("/admin/v1/routes/versions/{version:\\d+}/rollback")
@answers(ADMIN_CHANGE, ROUTE_VERSION_NOT_FOUND)
async def rollback_routes(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    version = path_number(request, "version")
    await actions.rollback_routes(request.app, who, version)
    return json_response({"active": version})


# ----------------------------------------------------------------------------------- audit


@routes.get("/admin/v1/audit")
@answers(ADMIN_AUTH)
async def audit_entries(request: web.Request) -> web.Response:
    require(request, AUDIT_ROLES)
    after = query_number(request, "after", 0)
    limit = query_number(request, "limit", 100, minimum=1, maximum=1000)
    action = request.query.get("action")
    if action is not None:
        _check_query("action", action, AUDIT_ACTION, "an audit action such as key.revoked")
    text = request.query.get("text")
    if text is not None:
        _check_query("text", text, PLAIN_TEXT, "plain text without control characters")
    entries, last = await actions.audit_search(request.app, after, limit, action, text)
    return json_response({"entries": entries, "next_after": last})


@routes.get("/admin/v1/audit/verify")
@answers(ADMIN_AUTH)
async def audit_verify(request: web.Request) -> web.Response:
    """The chain recomputed from the stored bytes and the signed checkpoints checked."""
    require(request, AUDIT_ROLES)
    return json_response(await actions.audit_verify(request.app))
