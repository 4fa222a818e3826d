"""One department through the admin API, as its ``departments.toml`` table in JSON:
``GET /admin/v1/departments/{dept}`` answers the table, ``PUT`` takes it back (edited or not),
``PUT .../delivery`` changes only how it receives (push with its endpoint, or pull), and
``GET .../keys`` lists its keys with their validity.

A changed department is a change of the administration overlay (kept, shared with the other
instances, audited), in force for the next message and the next delivery attempt. Its keys
and its enabled state have calls of their own and are not part of the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.administration import ADMIN_ONLY, READ_ROLES
from gateway.api.admin import department_id, json_body, require
from gateway.api.appkeys import ADMINISTRATION, CLOCK, CURRENT
from gateway.api.openapi import ADMIN_AUTH, ADMIN_CHANGE, STRICT_JSON, answers
from gateway.api.responses import json_response
from gateway.clock import utc_iso
from gateway.configuration.loader import parse_departments
from gateway.configuration.model import Department
from gateway.configuration.tables import delivery_table, department_table
from gateway.problem_types import DEPARTMENT_NOT_FOUND, INVALID_BODY, INVALID_DEPARTMENT
from gateway.problems import ConfigError, DocumentError, GatewayError
from gateway.trust import KeyRecord

routes = web.RouteTableDef()
# members of a department table that have calls of their own
NOT_IN_TABLE = ("keys", "enabled")


@routes.get("/admin/v1/departments/{dept}")
@answers(ADMIN_AUTH, DEPARTMENT_NOT_FOUND)
async def get_department(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    dept = request.app[CURRENT].config.departments[department_id(request)]
    return json_response(department_table(dept))


@routes.put("/admin/v1/departments/{dept}")
@answers(ADMIN_CHANGE, STRICT_JSON, INVALID_BODY, INVALID_DEPARTMENT, DEPARTMENT_NOT_FOUND)
async def put_department(request: web.Request) -> web.Response:
    """Replace the department's settings with the table given (what GET answered, edited)."""
    who = require(request, ADMIN_ONLY)
    dept_id = department_id(request)
    table = await json_body(request)
    for member in NOT_IN_TABLE:
        if member in table:
            raise DocumentError(
                f"{member!r} is not part of a department table here: it has calls of its own",
                INVALID_DEPARTMENT,
            )
    if table.get("id") != dept_id:
        raise DocumentError("the table's id must be the department in the path", INVALID_DEPARTMENT)
    await _replace(request, who, dept_id, table, "department.changed")
    return json_response(department_table(request.app[CURRENT].config.departments[dept_id]))


@routes.put("/admin/v1/departments/{dept}/delivery")
@answers(ADMIN_CHANGE, STRICT_JSON, INVALID_BODY, INVALID_DEPARTMENT, DEPARTMENT_NOT_FOUND)
async def put_delivery(request: web.Request) -> web.Response:
    """Push (with its endpoint, timeout, concurrency) or pull, for the next delivery."""
    who = require(request, ADMIN_ONLY)
    dept_id = department_id(request)
    delivery = await json_body(request)
    current = request.app[CURRENT].config.departments[dept_id]
    table = {**department_table(current), "delivery": delivery}
    await _replace(request, who, dept_id, table, "department.delivery_changed")
    changed = request.app[CURRENT].config.departments[dept_id]
    return json_response(delivery_table(changed.delivery))


async def _replace(
    request: web.Request, who: Any, dept_id: str, table: dict[str, Any], action: str
) -> Department:
    department = _checked(request, table)
    await request.app[ADMINISTRATION].change(
        who,
        lambda state: state.with_department(dept_id, table),
        action,
        dept_id,
        {"delivery": department.delivery.mode},
    )
    return department


def _checked(request: web.Request, table: dict[str, Any]) -> Department:
    try:
        (department,) = parse_departments({"departments": [table]}, "request body").values()
    except ConfigError as exc:
        raise DocumentError(exc.detail, INVALID_DEPARTMENT) from None
    schemas = request.app[CURRENT].context.schemas.types()
    unknown = sorted((department.sends | department.receives) - set(schemas))
    if unknown:
        raise DocumentError(f"document types without a schema: {unknown}", INVALID_DEPARTMENT)
    return department


@routes.get("/admin/v1/departments/{dept}/keys")
@answers(ADMIN_AUTH, DEPARTMENT_NOT_FOUND)
async def list_keys(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    dept_id = department_id(request)
    now = request.app[CLOCK].now()
    records = request.app[CURRENT].context.keys.for_department(dept_id)
    return json_response(
        {
            "department": dept_id,
            "keys": [
                {
                    "kid": k.kid,
                    "not_before": utc_iso(k.not_before),
                    "not_after": utc_iso(k.not_after) if k.not_after else None,
                    "revoked_at": utc_iso(k.revoked_at) if k.revoked_at else None,
                    "usable": _usable(k, now),
                }
                for k in records
            ],
        }
    )


def _usable(record: KeyRecord, at: datetime) -> bool:
    try:
        record.check_usable(at)
    except GatewayError:
        return False
    return True
