"""Cases: the open ones by deadline with counts by stage and by deadline flag, and one case's
clocks, materials per stage and timeline (the same body ``GET /admin/v1/cases/{id}`` gives)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from aiohttp import web

from gateway.administration import READ_ROLES
from gateway.api.appkeys import CASES, CLOCK
from gateway.api.cases import case_body
from gateway.cases.definition import Stage
from gateway.console.visit import Visit, page
from gateway.problem_types import CASE_NOT_FOUND
from gateway.problems import NotFoundError

routes = web.RouteTableDef()
LISTED = 1000


@routes.get("/console/cases")
@page(READ_ROLES)
async def open_cases(visit: Visit) -> web.StreamResponse:
    service = visit.app[CASES]
    views = [] if service is None else await service.open_views(LISTED)
    stages = [] if service is None else service.definition.stages
    by_stage = Counter(v.state.stage for v in views)
    return visit.render(
        "cases.html",
        enabled=service is not None,
        closed=None if service is None else await service.statistics(),
        cases=views,
        by_stage=[(_stage_label(s, visit), by_stage.get(s.name, 0)) for s in stages],
        by_flag=sorted(Counter(v.flag for v in views).items()),
    )


def _stage_label(stage: Stage, visit: Visit) -> str:
    """The stage's title for a Chinese reader (the definition's titles are Chinese,
    config/cases/work_injury.toml), its name for an English one."""
    return stage.title if visit.language == "zh" else stage.name


@routes.get("/console/cases/{id}")
@page(READ_ROLES)
async def one_case(visit: Visit) -> web.StreamResponse:
    service = visit.app[CASES]
    view = None if service is None else await service.view(visit.request.match_info["id"])
    if view is None or service is None:
        raise NotFoundError("no case with this id", problem=CASE_NOT_FOUND)
    body = case_body(view, service.definition)
    deadline = datetime.fromisoformat(view.state.deadline)
    left = (deadline - visit.app[CLOCK].now()).total_seconds() / 86400
    return visit.render("case.html", case=body, days_left=round(left, 1))
