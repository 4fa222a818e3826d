"""Departments: enabled or not, keys (add, rotate, revoke), delivery mode and endpoint, and
whether a push endpoint is gone (answered 410) or its breaker open."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.administration import ADMIN_ONLY, READ_ROLES
from gateway.api import admin_actions as actions
from gateway.api.appkeys import CURRENT
from gateway.configuration.tables import delivery_table
from gateway.console.visit import BASE, Visit, change, page, redirect
from gateway.messages import strict_loads
from gateway.problem_types import INVALID_BODY
from gateway.problems import MessageError

routes = web.RouteTableDef()
DONE = ("enabled", "disabled", "delivery", "key_added", "key_rotated", "key_revoked")


@routes.get("/console/departments")
@page(READ_ROLES)
async def departments(visit: Visit) -> web.StreamResponse:
    return visit.render("departments.html", departments=await actions.departments(visit.app))


@routes.get("/console/departments/{dept}")
@page(READ_ROLES)
async def department(visit: Visit) -> web.StreamResponse:
    return await _detail(visit)


async def _detail(visit: Visit, status: int = 200, **context: Any) -> web.Response:
    dept_id = actions.department_id(visit.app, visit.request.match_info["dept"])
    (found,) = [d for d in await actions.departments(visit.app) if d["id"] == dept_id]
    context.setdefault("notice", visit.notice(*DONE))
    return visit.render("department.html", status=status, d=found, **context)


def _here(visit: Visit, done: str) -> web.Response:
    return redirect(f"{BASE}departments/{visit.request.match_info['dept']}?done={done}")


@routes.post("/console/departments/{dept}/enable")
@change(ADMIN_ONLY)
async def enable(visit: Visit) -> web.StreamResponse:
    await actions.set_enabled(visit.app, visit.admin, visit.request.match_info["dept"], True)
    return _here(visit, "enabled")


@routes.post("/console/departments/{dept}/disable")
@change(ADMIN_ONLY)
async def disable(visit: Visit) -> web.StreamResponse:
    await actions.set_enabled(visit.app, visit.admin, visit.request.match_info["dept"], False)
    return _here(visit, "disabled")


@routes.post("/console/departments/{dept}/delivery")
@change(ADMIN_ONLY)
async def delivery(visit: Visit) -> web.StreamResponse:
    """The form's ``mode`` and ``endpoint`` over the department's delivery table (timeout and
    concurrency kept), as the API's ``PUT .../delivery`` takes it."""
    dept_id = actions.department_id(visit.app, visit.request.match_info["dept"])
    current = visit.app[CURRENT].config.departments[dept_id]
    table: dict[str, Any] = {**delivery_table(current.delivery), "mode": visit.field("mode")}
    table.pop("endpoint", None)
    if visit.field("endpoint").strip():
        table["endpoint"] = visit.field("endpoint").strip()
    await actions.set_delivery(visit.app, visit.admin, dept_id, table)
    return _here(visit, "delivery")


def _jwk(visit: Visit) -> Any:
    """The pasted public JWK, parsed as strictly as any JSON the gateway takes."""
    text = visit.field("jwk").strip()
    if not text:
        raise MessageError("paste the new key's public JWK", problem=INVALID_BODY)
    return strict_loads(text.encode())


@routes.post("/console/departments/{dept}/keys")
@change(ADMIN_ONLY)
async def add_key(visit: Visit) -> web.StreamResponse:
    spec = {"name": visit.field("name").strip(), "jwk": _jwk(visit)}
    await actions.add_key(visit.app, visit.admin, visit.request.match_info["dept"], spec)
    return _here(visit, "key_added")


@routes.post("/console/departments/{dept}/keys/{name}/rotate")
@change(ADMIN_ONLY)
async def rotate_key(visit: Visit) -> web.StreamResponse:
    match = visit.request.match_info
    body = {
        "new": {"name": visit.field("new_name").strip(), "jwk": _jwk(visit)},
        "overlap": visit.field("overlap", "1h").strip() or "1h",
    }
    await actions.rotate_key(visit.app, visit.admin, match["dept"], match["name"], body)
    return _here(visit, "key_rotated")


@routes.post("/console/departments/{dept}/keys/{name}/revoke")
@change(ADMIN_ONLY)
async def revoke_key(visit: Visit) -> web.StreamResponse:
    match = visit.request.match_info
    await actions.revoke_key(visit.app, visit.admin, match["dept"], match["name"])
    return _here(visit, "key_revoked")
