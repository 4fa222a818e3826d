"""Audit: search the chain (by action, by actor or target text, from an entry on) and verify
it whole against its hashes and the gateway's signed checkpoints (admins and auditors)."""

from __future__ import annotations

from aiohttp import web

from gateway.administration import AUDIT_ROLES
from gateway.api import admin_actions as actions
from gateway.api.params import query_number
from gateway.console.visit import Visit, page

routes = web.RouteTableDef()
SHOWN = 200


@routes.get("/console/audit")
@page(AUDIT_ROLES)
async def search(visit: Visit) -> web.StreamResponse:
    query = visit.request.query
    after = query_number(visit.request, "after", 0)
    action = query.get("action", "").strip() or None
    text = query.get("text", "").strip() or None
    entries, last = await actions.audit_search(visit.app, after, SHOWN, action, text)
    return visit.render(
        "audit.html",
        entries=entries,
        after=after,
        next_after=last if len(entries) == SHOWN else None,
        action=action or "",
        text=text or "",
        verdict=await actions.audit_verify(visit.app) if "verify" in query else None,
    )
