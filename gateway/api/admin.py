"""``/admin/v1``: administrator calls, authenticated with bearer tokens that have a role.

Each handler checks the role, reads the request and writes the response; what a change does
is the administration service's (``gateway.administration``): a new overlay, saved, swapped
in, audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from gateway.acceptance import AcceptanceContext
from gateway.administration import (
    ADMIN_ONLY,
    AUDIT_ROLES,
    READ_ROLES,
    WRITE_ROLES,
    AdminState,
    AdminToken,
)
from gateway.api.appkeys import ADMIN_TOKENS, ADMINISTRATION, CLOCK, CURRENT, STORE
from gateway.api.auth import bearer
from gateway.api.openapi import ADMIN_AUTH, ADMIN_CHANGE, SIGNED_MESSAGE, STRICT_JSON, answers
from gateway.api.params import path_number, query_number
from gateway.api.responses import json_response
from gateway.clock import utc_iso
from gateway.configuration.loader import (
    KEY_NAME,
    Place,
    parse_departments,
    parse_duration,
    parse_routes,
)
from gateway.messages import SignedMessage, strict_loads
from gateway.problem_types import (
    DEAD_LETTER_NOT_FOUND,
    DEPARTMENT_EXISTS,
    DEPARTMENT_NOT_FOUND,
    INVALID_BODY,
    INVALID_DEPARTMENT,
    INVALID_DRY_RUN,
    INVALID_KEY,
    INVALID_ROUTES,
    KEY_EXISTS,
    KEY_NOT_FOUND,
    ROUTE_VERSION_NOT_FOUND,
)
from gateway.problems import (
    ConfigError,
    ConflictError,
    DocumentError,
    MessageError,
    NotFoundError,
)
from gateway.storage.base import GoneEndpoint
from gateway.trust import KeyRecord

routes = web.RouteTableDef()
#: a key in a request body: strict JSON, name and JWK, not taken, usable
KEY_BODY = (*STRICT_JSON, INVALID_BODY, KEY_EXISTS, INVALID_KEY)


def require(request: web.Request, roles: frozenset[str]) -> AdminToken:
    """The calling administrator, if its role is one of ``roles`` (else 403)."""
    return request.app[ADMIN_TOKENS].require(bearer(request), roles)


def _context(request: web.Request) -> AcceptanceContext:
    return request.app[CURRENT].context


# ---------------------------------------------------------------------- dead letters


@routes.get("/admin/v1/dead-letters")
@answers(ADMIN_AUTH)
async def list_dead(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    records = await request.app[STORE].list_dead(request.query.get("recipient"), 500)
    return json_response(
        {
            "dead_letters": [
                {
                    "sequence": d.seq,
                    "recipient": d.recipient,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "accepted_at": utc_iso(d.accepted_at) if d.accepted_at else None,
                }
                for d in records
            ]
        }
    )


@routes.post("/admin/v1/dead-letters/{seq:\\d+}/{recipient}/replay")
@answers(ADMIN_AUTH, DEAD_LETTER_NOT_FOUND)
async def replay(request: web.Request) -> web.Response:
    who = require(request, WRITE_ROLES)
    seq, recipient = path_number(request, "seq"), request.match_info["recipient"]
    await request.app[ADMINISTRATION].replay(who, seq, recipient)
    return json_response({"replayed": True, "sequence": seq, "recipient": recipient})


@routes.post("/admin/v1/dead-letters/{seq:\\d+}/{recipient}/discard")
@answers(ADMIN_AUTH, DEAD_LETTER_NOT_FOUND)
async def discard(request: web.Request) -> web.Response:
    who = require(request, WRITE_ROLES)
    seq, recipient = path_number(request, "seq"), request.match_info["recipient"]
    await request.app[ADMINISTRATION].discard(who, seq, recipient)
    return json_response({"discarded": True, "sequence": seq, "recipient": recipient})


# ---------------------------------------------------------------------- departments


@routes.get("/admin/v1/departments")
@answers(ADMIN_AUTH)
async def list_departments(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    context, now = _context(request), request.app[CLOCK].now()
    gone = await request.app[STORE].gone_endpoints()
    return json_response(
        {
            "departments": [
                {
                    "id": d.id,
                    "name": d.name,
                    "name_zh": d.name_zh,
                    "enabled": d.enabled,
                    "delivery": d.delivery.mode,
                    "endpoint_gone": _gone_view(gone.get(d.id)),
                    "sends": sorted(d.sends),
                    "receives": sorted(d.receives),
                    "keys": [
                        {
                            "kid": k.kid,
                            "revoked_at": utc_iso(k.revoked_at) if k.revoked_at else None,
                            "usable": k.revoked_at is None or k.revoked_at > now,
                        }
                        for k in context.keys.for_department(d.id)
                    ],
                }
                for d in context.config.departments.values()
            ]
        }
    )


def _gone_view(gone: GoneEndpoint | None) -> dict[str, str] | None:
    return None if gone is None else {"at": utc_iso(gone.at), "reason": gone.reason}


def _department_id(request: web.Request) -> str:
    dept_id = request.match_info["dept"]
    if dept_id not in _context(request).config.departments:
        raise NotFoundError(f"no department {dept_id}", problem=DEPARTMENT_NOT_FOUND)
    return dept_id


@routes.post("/admin/v1/departments/{dept}/disable")
@answers(ADMIN_CHANGE, DEPARTMENT_NOT_FOUND)
async def disable_department(request: web.Request) -> web.Response:
    return await _set_enabled(request, enabled=False)


@routes.post("/admin/v1/departments/{dept}/enable")
@answers(ADMIN_CHANGE, DEPARTMENT_NOT_FOUND)
async def enable_department(request: web.Request) -> web.Response:
    return await _set_enabled(request, enabled=True)


async def _set_enabled(request: web.Request, *, enabled: bool) -> web.Response:
    """A disabled department's messages are refused and it is no one's recipient."""
    who = require(request, ADMIN_ONLY)
    dept_id = _department_id(request)
    action = f"department.{'enabled' if enabled else 'disabled'}"
    administration = request.app[ADMINISTRATION]
    await administration.change(
        who, lambda state: state.with_enabled(dept_id, enabled), action, dept_id
    )
    if enabled:  # and an endpoint a 410 disabled is enabled again with it
        await administration.enable_endpoint(who, dept_id)
    return json_response({"department": dept_id, "enabled": enabled})


@routes.post("/admin/v1/departments")
@answers(ADMIN_CHANGE, STRICT_JSON, INVALID_BODY, INVALID_DEPARTMENT, DEPARTMENT_EXISTS)
async def add_department(request: web.Request) -> web.Response:
    """A new department, given as its departments.toml table in JSON (id, name, sends,
    receives, delivery). Its keys are added with the keys call; it is enabled at once."""
    who = require(request, ADMIN_ONLY)
    context = _context(request)
    body = await _json_body(request)
    if body.get("keys"):
        raise MessageError(
            "add keys with POST /admin/v1/departments/{id}/keys", problem=INVALID_BODY
        )
    try:
        (department,) = parse_departments({"departments": [body]}, "request body").values()
    except ConfigError as exc:
        raise DocumentError(exc.detail, problem=INVALID_DEPARTMENT) from None
    if department.id in context.config.departments:
        raise ConflictError(f"department {department.id} exists", problem=DEPARTMENT_EXISTS)
    unknown = sorted((department.sends | department.receives) - set(context.schemas.types()))
    if unknown:
        raise DocumentError(
            f"document types without a schema: {unknown}", problem=INVALID_DEPARTMENT
        )
    await request.app[ADMINISTRATION].change(
        who,
        lambda state: state.with_department(department.id, body),
        "department.added",
        department.id,
    )
    return json_response({"department": department.id, "enabled": True}, status=201)


# ---------------------------------------------------------------------- keys


def _existing_kid(request: web.Request, dept_id: str) -> str:
    kid = f"{dept_id}/{request.match_info['name']}"
    if _context(request).keys.get(kid) is None:
        raise NotFoundError(f"no key {kid}", problem=KEY_NOT_FOUND)
    return kid


@routes.post("/admin/v1/departments/{dept}/keys/{name}/revoke")
@answers(ADMIN_CHANGE, DEPARTMENT_NOT_FOUND, KEY_NOT_FOUND)
async def revoke_key(request: web.Request) -> web.Response:
    """Revocation applies to the next request, department tokens included."""
    who = require(request, ADMIN_ONLY)
    kid = _existing_kid(request, _department_id(request))
    now = request.app[CLOCK].now()
    await request.app[ADMINISTRATION].change(
        who, lambda state: state.with_revoked(kid, now), "key.revoked", kid
    )
    return json_response({"kid": kid, "revoked_at": utc_iso(now)})


def _new_key(
    request: web.Request, dept_id: str, spec: Any, not_before: datetime
) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, dict) or not isinstance(spec.get("jwk"), dict):
        raise MessageError('send {"name": ..., "jwk": {...public JWK...}}', problem=INVALID_BODY)
    name = spec.get("name")
    if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
        raise MessageError("name: letters, digits, '.', '_' or '-'", problem=INVALID_BODY)
    kid = f"{dept_id}/{name}"
    if _context(request).keys.get(kid) is not None:
        raise ConflictError(
            f"the key {kid} already exists; keys are never replaced", problem=KEY_EXISTS
        )
    jwk: dict[str, Any] = {**spec["jwk"], "kid": kid}
    KeyRecord(kid, dept_id, jwk, not_before)  # validates: public only, Ed25519 or P-256
    record = {"department": dept_id, "jwk": jwk, "not_before": not_before.isoformat()}
    return kid, record


@routes.post("/admin/v1/departments/{dept}/keys")
@answers(ADMIN_CHANGE, KEY_BODY, DEPARTMENT_NOT_FOUND)
async def add_key(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    dept_id = _department_id(request)
    now = request.app[CLOCK].now()
    kid, record = _new_key(request, dept_id, await _json_body(request), now)
    await request.app[ADMINISTRATION].change(
        who, lambda state: state.with_key(kid, record), "key.added", kid
    )
    return json_response({"kid": kid, "not_before": utc_iso(now)}, status=201)


@routes.post("/admin/v1/departments/{dept}/keys/{name}/rotate")
@answers(ADMIN_CHANGE, KEY_BODY, DEPARTMENT_NOT_FOUND, KEY_NOT_FOUND)
async def rotate_key(request: web.Request) -> web.Response:
    """The new key is valid at once; the old one until the overlap window ends."""
    who = require(request, ADMIN_ONLY)
    dept_id = _department_id(request)
    old = _existing_kid(request, dept_id)
    body = await _json_body(request)
    try:
        overlap = parse_duration(body.get("overlap", "1h"), Place("request body", "overlap"))
    except ConfigError as exc:  # the client's input, not the configuration: never a 500
        raise MessageError(exc.detail, problem=INVALID_BODY) from None
    now = request.app[CLOCK].now()
    kid, record = _new_key(request, dept_id, body.get("new"), now)
    await request.app[ADMINISTRATION].change(
        who,
        lambda state: state.with_key(kid, record).with_expiry(old, now + overlap),
        "key.rotated",
        old,
        {"new": kid, "overlap_s": int(overlap.total_seconds())},
    )
    return json_response({"old": old, "old_not_after": utc_iso(now + overlap), "new": kid})


# ---------------------------------------------------------------------- routes


@routes.get("/admin/v1/routes")
@answers(ADMIN_AUTH)
async def list_routes(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    return json_response(
        {
            "routes": [
                {
                    "name": r.name,
                    "type": r.type,
                    "to": list(r.to),
                    "to_pointer": r.to_pointer,
                    "when": {c.pointer: list(c.values) for c in r.when},
                }
                for r in _context(request).config.routes
            ]
        }
    )


@routes.post("/admin/v1/routes/dry-run")
@answers(ADMIN_AUTH, SIGNED_MESSAGE, INVALID_DRY_RUN)
async def dry_run(request: web.Request) -> web.Response:
    """Which recipients would this event (or signed message) reach, and why."""
    require(request, READ_ROLES)
    event = _event_of(strict_loads(await request.read()))
    return json_response(_context(request).router.decide(event).explain())


def _event_of(document: object) -> dict[str, object]:
    if isinstance(document, dict) and "payload" in document and "signatures" in document:
        parsed = SignedMessage.parse(orjson.dumps(document)).event
        return {
            "id": parsed.id,
            "source": parsed.source,
            "type": parsed.type,
            "subject": parsed.subject,
            "data": parsed.data,
        }
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        return document
    raise MessageError(
        "send a CloudEvent (with type, source, data) or a signed message",
        problem=INVALID_DRY_RUN,
    )


@routes.put("/admin/v1/routes")
@answers(ADMIN_CHANGE, STRICT_JSON, INVALID_BODY, INVALID_ROUTES)
async def replace_routes(request: web.Request) -> web.Response:
    """A new route table, validated against the departments, in force for the next message."""
    who = require(request, ADMIN_ONLY)
    body = await _json_body(request)
    try:
        parsed = parse_routes(body, "request body", dict(_context(request).config.departments))
    except ConfigError as exc:
        raise DocumentError(exc.detail, problem=INVALID_ROUTES) from None
    routes_, at = body.get("routes", []), utc_iso(request.app[CLOCK].now())
    note = str(body.get("note", ""))[:200]
    state = await request.app[ADMINISTRATION].change(
        who,
        lambda state: state.with_routes(routes_, f"admin:{who.name}", at, note),
        "routes.replaced",
        lambda state: f"routes:v{state.active_routes}",
        {"routes": len(parsed)},
    )
    return json_response({"version": state.active_routes, "routes": len(parsed)})


@routes.get("/admin/v1/routes/versions")
@answers(ADMIN_AUTH)
async def route_versions(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    state = request.app[ADMINISTRATION].state
    versions = [{"version": 0, "by": "config/routes.toml", "at": None, "note": "as configured"}]
    versions += [{k: v[k] for k in ("version", "by", "at", "note")} for v in state.route_versions]
    return json_response({"active": state.active_routes or 0, "versions": versions})


@routes.post("/admin/v1/routes/versions/{version:\\d+}/rollback")
@answers(ADMIN_CHANGE, ROUTE_VERSION_NOT_FOUND)
async def rollback_routes(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    version = path_number(request, "version")

    def change(state: AdminState) -> AdminState:
        if version > len(state.route_versions):
            raise NotFoundError(f"no route version {version}", problem=ROUTE_VERSION_NOT_FOUND)
        return state.with_active_routes(version)

    await request.app[ADMINISTRATION].change(
        who, change, "routes.rolled_back", f"routes:v{version}"
    )
    return json_response({"active": version})


# ---------------------------------------------------------------------- audit


@routes.get("/admin/v1/audit")
@answers(ADMIN_AUTH)
async def audit_entries(request: web.Request) -> web.Response:
    require(request, AUDIT_ROLES)
    after = query_number(request, "after", 0)
    limit = query_number(request, "limit", 100, minimum=1, maximum=1000)
    action = request.query.get("action")
    records = await request.app[STORE].audit_entries(after, limit)
    return json_response(
        {
            "entries": [
                {
                    "seq": r.seq,
                    "action": r.event.action,
                    "actor": r.event.actor,
                    "at": utc_iso(r.event.at),
                    "target": r.event.target,
                    "detail": r.event.detail,
                    "hash": r.hash,
                }
                for r in records
                if action is None or r.event.action == action
            ]
        }
    )


async def _json_body(request: web.Request) -> dict[str, Any]:
    document = strict_loads(await request.read())
    if not isinstance(document, dict):
        raise MessageError("the body must be a JSON object", problem=INVALID_BODY)
    return document
