"""Dead letters: what could not be delivered, with replay and discard (operators and admins)."""

from __future__ import annotations

from aiohttp import web

from gateway.administration import READ_ROLES, WRITE_ROLES
from gateway.api import admin_actions as actions
from gateway.api.params import path_number
from gateway.console.visit import BASE, Visit, change, page, redirect

routes = web.RouteTableDef()
PAGE = BASE + "dead-letters"


@routes.get("/console/dead-letters")
@page(READ_ROLES)
async def dead_letters(visit: Visit) -> web.StreamResponse:
    recipient = visit.request.query.get("recipient") or None
    found = await actions.dead_letters(visit.app, recipient)
    return visit.render(
        "dead_letters.html",
        letters=found,
        recipient=recipient or "",
        notice=visit.notice("replayed", "discarded"),
    )


@routes.post("/console/dead-letters/{seq:\\d+}/{recipient}/replay")
@change(WRITE_ROLES)
async def replay(visit: Visit) -> web.StreamResponse:
    seq, recipient = path_number(visit.request, "seq"), visit.request.match_info["recipient"]
    await actions.replay(visit.app, visit.admin, seq, recipient)
    return redirect(f"{PAGE}?done=replayed")


@routes.post("/console/dead-letters/{seq:\\d+}/{recipient}/discard")
@change(WRITE_ROLES)
async def discard(visit: Visit) -> web.StreamResponse:
    seq, recipient = path_number(visit.request, "seq"), visit.request.match_info["recipient"]
    await actions.discard(visit.app, visit.admin, seq, recipient)
    return redirect(f"{PAGE}?done=discarded")
