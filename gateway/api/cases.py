"""``GET /v1/cases/{id}``: a case's stage, deadline and timeline, for its parties only;
``GET /admin/v1/cases`` and ``/admin/v1/cases/{id}``: the same for administrators (every role),
with the open cases by deadline so an operator sees what is near or overdue;
``GET /admin/v1/cases/statistics``: the reform's figures (count, median and p90 days, days
saved) per year and outcome.

Each required material shows as ``received``, ``missing`` or ``not_counted`` (it arrived but
names another person or accident; the reasons say which field).

Parties are the departments that sent or received a message under the case (and the case
service). Anyone else gets the same 404 as for a case that does not exist: whether a person
has a work-injury case is itself personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.administration import READ_ROLES
from gateway.api.admin import require
from gateway.api.appkeys import CASES
from gateway.api.auth import department
from gateway.api.openapi import ADMIN_AUTH, DEPARTMENT_AUTH, answers
from gateway.api.responses import json_response
from gateway.cases import CaseDefinition, CaseState, CaseView
from gateway.problem_types import CASE_NOT_FOUND
from gateway.problems import NotFoundError

routes = web.RouteTableDef()


@routes.get("/v1/cases/{id}")
@answers(DEPARTMENT_AUTH, CASE_NOT_FOUND)
async def show_case(request: web.Request) -> web.Response:
    service = request.app[CASES]
    caller = await department(request)
    not_found = NotFoundError(
        "no case with this id in which your department takes part", problem=CASE_NOT_FOUND
    )
    if service is None:
        raise not_found
    view = await service.view(request.match_info["id"])
    if view is None or caller not in view.state.parties:
        raise not_found
    return json_response(case_body(view, service.definition))


@routes.get("/admin/v1/cases")
@answers(ADMIN_AUTH)
async def list_open_cases(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    service = request.app[CASES]
    if service is None:
        return json_response({"cases": []})
    views = await service.open_views(limit=1000)
    return json_response(
        {
            "cases": [
                {
                    "case_id": v.state.case_id,
                    "stage": v.state.stage,
                    "opened_at": v.state.opened_at,
                    "deadline": v.state.deadline,
                    "deadline_flag": v.flag,
                    "missing": v.state.missing(v.state.stage),
                    "materials": _materials(v.state, v.state.stage),
                }
                for v in views
            ]
        }
    )


@routes.get("/admin/v1/cases/statistics")
@answers(ADMIN_AUTH)
async def case_statistics(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    service = request.app[CASES]
    if service is None:
        return json_response({"closed": 0, "days_saved": 0, "groups": []})
    return json_response(await service.statistics())


@routes.get("/admin/v1/cases/{id}")
@answers(ADMIN_AUTH, CASE_NOT_FOUND)
async def show_case_to_admin(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    service = request.app[CASES]
    view = None if service is None else await service.view(request.match_info["id"])
    if view is None or service is None:
        raise NotFoundError("no case with this id", problem=CASE_NOT_FOUND)
    return json_response(case_body(view, service.definition))


def case_body(view: CaseView, definition: CaseDefinition) -> dict[str, Any]:
    state = view.state
    opened = state.opened()
    return {
        "case_id": state.case_id,
        "definition": state.definition,
        "status": state.status,
        "stage": state.stage,
        "outcome": state.outcome,
        "reason": state.reason,
        "opened_at": state.opened_at,
        "deadline": state.deadline,
        "deadline_flag": view.flag,
        "closed_at": state.closed_at,
        "handed_to": state.handed_to,
        "flags": state.flags,
        "clocks": _clocks(view, definition),
        "parties": state.parties,
        "stages": [
            {
                "name": stage.name,
                "title": stage.title,
                "decided_by": stage.decided_by,
                "materials": state.needed.get(stage.name, []),
                "missing": state.missing(stage.name),
                "material_status": _materials(state, stage.name),
                "decision_received": stage.decision in state.decisions,
            }
            for stage in definition.stages
        ],
        "timeline": [
            {
                "at": step.at,
                "elapsed_days": _days(opened, datetime.fromisoformat(step.at)),
                "kind": step.kind,
                "stage": step.stage,
                "type": step.type,
                "from": step.source,
                "to": step.recipients,
                "sequence": step.seq,
                "note": step.note,
            }
            for step in state.steps
        ],
    }


def _materials(state: CaseState, stage: str) -> list[dict[str, Any]]:
    return [
        {
            "type": doc_type,
            "status": state.material_status(doc_type),
            "not_counted": state.not_counted.get(doc_type, []),
        }
        for doc_type in state.needed.get(stage, [])
    ]


def _clocks(view: CaseView, definition: CaseDefinition) -> list[dict[str, Any]]:
    state = view.state
    shown = []
    for clock in definition.clocks:
        due = state.clock_due(clock)
        shown.append(
            {
                "name": clock.name,
                "stage": clock.stage,
                "due": None if due is None else due.isoformat(),
                "extension_days": clock.extension.days,
                "stopped": state.decided_at.get(clock.stage),
                "event": state.clocks.get(clock.name),
                "source": clock.source,
            }
        )
    return shown


def _days(start: datetime, at: datetime) -> float:
    return round((at - start).total_seconds() / 86400, 2)
