"""The overview: traffic, what waits for whom and since when, breakers, dead letters, and the
open cases nearest their deadline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from gateway.administration import READ_ROLES
from gateway.api.appkeys import CASES, CLOCK, DISPATCHER, METRICS, STORE
from gateway.clock import utc_iso
from gateway.console.visit import Visit, page

routes = web.RouteTableDef()
CASES_SHOWN = 10


@routes.get("/console/")
@page(READ_ROLES)
async def overview(visit: Visit) -> web.StreamResponse:
    app = visit.app
    now = app[CLOCK].now()
    stats = await app[STORE].stats(now)
    metrics = app[METRICS]
    traffic = {
        "accepted": _total(metrics.messages_accepted),
        "rejected": _total(metrics.messages_rejected),
        "delivered": _total(metrics.deliveries),
        "dead_lettered": _total(metrics.dead_letters),
    }
    dispatcher = app.get(DISPATCHER)
    breakers = dispatcher.breakers.states(now) if dispatcher else {}
    service = app[CASES]
    cases = [] if service is None else await service.open_views(CASES_SHOWN)
    return visit.render(
        "overview.html",
        traffic=traffic,
        backlog=_backlog(stats.pending_by_recipient, stats.oldest_pending_by_recipient, now),
        breakers={name: str(state) for name, state in breakers.items() if state != "closed"},
        gone=sorted(await app[STORE].gone_endpoints()),
        dead=stats.dead,
        cases=cases,
    )


def _total(counter: Counter) -> int:
    """The sum over every label of a counter, since this instance started."""
    return int(
        sum(
            sample.value
            for metric in counter.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
    )


def _backlog(
    pending: dict[str, int], oldest: dict[str, datetime], now: datetime
) -> list[dict[str, Any]]:
    """Recipients with something pending, the longest-waiting first."""
    rows = [
        {
            "recipient": recipient,
            "pending": count,
            "oldest": utc_iso(oldest[recipient]) if recipient in oldest else None,
            "age_minutes": round((now - oldest[recipient]).total_seconds() / 60, 1)
            if recipient in oldest
            else 0.0,
        }
        for recipient, count in pending.items()
        if count
    ]
    return sorted(rows, key=lambda row: -row["age_minutes"])
