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

from aiohttp import web

from gateway.administration import ADMIN_ONLY, READ_ROLES
from gateway.api import admin_actions as actions
from gateway.api.admin import department_id, json_body, require
from gateway.api.appkeys import CLOCK, CURRENT
from gateway.api.openapi import ADMIN_AUTH, ADMIN_CHANGE, STRICT_JSON, answers
from gateway.api.responses import json_response
from gateway.clock import utc_iso
from gateway.configuration.tables import delivery_table, department_table
from gateway.problem_types import DEPARTMENT_NOT_FOUND, INVALID_BODY, INVALID_DEPARTMENT
from gateway.problems import GatewayError
from gateway.trust import KeyRecord

routes = web.RouteTableDef()


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
    changed = await actions.replace_department(
        request.app, who, dept_id, table, "department.changed"
    )
    return json_response(department_table(changed))


@routes.put("/admin/v1/departments/{dept}/delivery")
@answers(ADMIN_CHANGE, STRICT_JSON, INVALID_BODY, INVALID_DEPARTMENT, DEPARTMENT_NOT_FOUND)
async def put_delivery(request: web.Request) -> web.Response:
    """Push (with its endpoint, timeout, concurrency) or pull, for the next delivery."""
    who = require(request, ADMIN_ONLY)
    dept_id = department_id(request)
    delivery = await actions.set_delivery(request.app, who, dept_id, await json_body(request))
    return json_response(delivery_table(delivery))


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
