"""Routes: the table in force, an editor that validates before anything changes, a dry run
that explains every route for an event, and the versions with their differences and
rollback."""

from __future__ import annotations

import difflib
from typing import Any

import orjson
from aiohttp import web

from gateway.administration import ADMIN_ONLY, READ_ROLES
from gateway.api import admin_actions as actions
from gateway.api.params import path_number, query_number
from gateway.console.visit import BASE, Visit, change, page, redirect
from gateway.messages import strict_loads
from gateway.problem_types import INVALID_BODY
from gateway.problems import GatewayError, MessageError

routes = web.RouteTableDef()
PAGE = BASE + "routes"


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _example_event(table: list[dict[str, Any]]) -> str:
    """A starting point for the dry run: an event of the first route's type."""
    kind = table[0]["type"] if table else "cn.gov.zj.injury.medical_diagnosis.v1"
    return _pretty({"type": kind, "source": "330784.health.h001", "data": {}})


def _routes_page(visit: Visit, status: int = 200, **context: Any) -> web.Response:
    table = actions.route_table(visit.app)
    context.setdefault("editor", _pretty({"routes": table}))
    context.setdefault("event", _example_event(table))
    context.setdefault("notice", visit.notice("saved", "rolled_back"))
    versions = actions.route_versions(visit.app)
    return visit.render(
        "routes.html", status=status, table=table, active=versions["active"], **context
    )


@routes.get("/console/routes")
@page(READ_ROLES)
async def route_table(visit: Visit) -> web.StreamResponse:
    return _routes_page(visit)


@routes.post("/console/routes")
@change(ADMIN_ONLY)
async def save(visit: Visit) -> web.StreamResponse:
    """The editor's JSON (the PUT body's shape) checked whole; on any fault the page comes
    back with the text as typed and the fault named, and nothing has changed."""
    text = visit.field("routes")
    try:
        body = strict_loads(text.encode())
        if not isinstance(body, dict):
            raise MessageError(
                'the table is a JSON object: {"routes": [...]}', problem=INVALID_BODY
            )
        body["note"] = visit.field("note")[:200]
        await actions.put_routes(visit.app, visit.admin, body)
    except GatewayError as error:
        return _routes_page(visit, status=error.status, editor=text, edit_error=error)
    return redirect(f"{PAGE}?done=saved")


@routes.post("/console/routes/dry-run")
@change(READ_ROLES)
async def dry_run(visit: Visit) -> web.StreamResponse:
    text = visit.field("event")
    try:
        result = actions.dry_run(visit.app, text.encode())
    except GatewayError as error:
        return _routes_page(visit, status=error.status, event=text, dry_error=error)
    return _routes_page(visit, event=text, result=result)


@routes.get("/console/routes/versions")
@page(READ_ROLES)
async def versions(visit: Visit) -> web.StreamResponse:
    """Every version; the difference between two of them (by default the one before the
    active table and the active one)."""
    listed = actions.route_versions(visit.app)
    active = listed["active"]
    older = query_number(visit.request, "a", max(active - 1, 0))
    newer = query_number(visit.request, "b", active)
    return visit.render(
        "versions.html",
        versions=listed["versions"],
        active=active,
        diff=_diff(visit, older, newer) if older != newer else [],
        a=older,
        b=newer,
        notice=visit.notice("rolled_back"),
    )


def _diff(visit: Visit, older: int, newer: int) -> list[tuple[str, str]]:
    """A unified diff of two versions' tables, each line with its kind (add, del, hunk)."""
    before = _pretty(actions.version_routes(visit.app, older)).splitlines()
    after = _pretty(actions.version_routes(visit.app, newer)).splitlines()
    lines = difflib.unified_diff(before, after, f"v{older}", f"v{newer}", lineterm="", n=2)
    return [(_kind(line), line) for line in lines]


def _kind(line: str) -> str:
    if line.startswith(("+++", "---", "@@")):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "same")


@routes.post("/console/routes/versions/{version:\\d+}/rollback")
@change(ADMIN_ONLY)
async def rollback(visit: Visit) -> web.StreamResponse:
    await actions.rollback_routes(visit.app, visit.admin, path_number(visit.request, "version"))
    return redirect(f"{PAGE}/versions?done=rolled_back")
