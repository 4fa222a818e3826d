"""The background workers, with one lifecycle: started when the app starts, after the
services (``gateway.api.services``); cancelled and awaited when it stops, before them.

- ``dispatcher``: claims due push deliveries and attempts them (``gateway.delivery``);
- ``deadlines``: the case layer's catch-up and deadline watch (``gateway.cases``);
- ``retention``: purges delivered messages older than the retention period;
- ``reseal``: re-seals records at rest after a key rotation (``[crypto] at_rest``;
  ``gateway.encryption.rotation``);
- ``admin-state``: takes administrative changes other instances saved (shared store only).

The first four run only when ``Options.run_dispatcher`` is set; tests and the demo drive
them by hand on a manual clock instead. Besides the tasks, a shared store's notifications
(PostgreSQL LISTEN) wake this instance's dispatcher and live streams.

Shape as in aiohttp's ``examples/background_tasks.py``: each resource opened in a
``cleanup_ctx`` generator, its handle kept under a typed key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from gateway.administration import Administration
from gateway.api.appkeys import (
    ADMINISTRATION,
    CASES,
    CLOCK,
    CURRENT,
    DISPATCHER,
    METRICS,
    NOTIFIER,
    OPTIONS,
    PROTECTION,
    STORE,
    WORKERS,
)
from gateway.cases import CaseService
from gateway.clock import Clock
from gateway.delivery import Dispatcher, Pusher
from gateway.encryption.rotation import run_resealing
from gateway.options import identity
from gateway.retention import purge_once
from gateway.storage.base import Store

log = structlog.get_logger("gateway.workers")

RETENTION_EVERY = 3600.0  # seconds between retention passes


async def delivery_client(app: web.Application) -> AsyncIterator[None]:
    """The dispatcher and the HTTP session it pushes with (closed after the workers)."""
    options = app[OPTIONS]
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=256, limit_per_host=32, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=30, connect=5),
        headers={"User-Agent": "zj-exchange-gateway/0.1"},
    )
    current = app[CURRENT]
    app[DISPATCHER] = Dispatcher(
        app[STORE],
        app[CLOCK],
        lambda: current.config,
        Pusher(session),
        app[METRICS],
        app[NOTIFIER],
        owner=identity(options),
        poll_interval=options.poll_interval,
        lease_seconds=options.lease_seconds,
    )
    try:
        yield
    finally:
        await session.close()


async def workers(app: web.Application) -> AsyncIterator[None]:
    """Start every worker this instance runs; on stop, cancel them and wait for each."""
    store = app[STORE]
    if store.capabilities.listen:
        # Other instances' commits wake this dispatcher and this instance's live streams
        # too (PostgreSQL LISTEN/NOTIFY); streams are served without a dispatcher as well.
        await store.listen(app[NOTIFIER].wake)
    app[WORKERS] = {
        name: asyncio.create_task(loop(), name=name) for name, loop in _loops(app).items()
    }
    try:
        yield
    finally:
        tasks = list(app[WORKERS].values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def end_streams(app: web.Application) -> None:
    """On shutdown, before the workers stop: live streams end instead of holding it up."""
    app[NOTIFIER].close()


def _loops(app: web.Application) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
    options, current = app[OPTIONS], app[CURRENT]
    loops: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
    administration = app[ADMINISTRATION]
    if administration.shared:
        loops["admin-state"] = lambda: follow_admin_state(administration, options.admin_poll)
    if not options.run_dispatcher:
        return loops
    loops["dispatcher"] = app[DISPATCHER].run_forever
    store, clock = app[STORE], app[CLOCK]
    loops["retention"] = lambda: run_retention(
        store, clock, lambda: current.config.gateway.retention
    )
    codec = app[PROTECTION].codec
    if codec is not None:
        loops["reseal"] = lambda: run_resealing(store, codec)
    cases = app[CASES]
    if cases is not None:
        interval = current.config.cases.check_interval.total_seconds()
        loops["deadlines"] = lambda: watch_deadlines(cases, interval)
    return loops


async def follow_admin_state(administration: Administration, interval: float) -> None:
    """Every ``interval`` seconds, take a change another instance saved."""
    while True:
        await asyncio.sleep(interval)
        try:
            await administration.follow()
        except Exception as exc:
            log.error("admin.follow_failed", error=type(exc).__name__)


async def watch_deadlines(service: CaseService, interval: float) -> None:
    """Every ``interval`` seconds: apply any accepted message the submit path did not (after
    a crash, the first pass reads back the deadline window), then look at open cases'
    deadlines (the breach metric and notices come from here). A failed pass is logged and
    tried again."""
    while True:
        try:
            await service.catch_up()
            await service.check_deadlines()
        except Exception as exc:
            log.error("cases.deadline_check_failed", error=type(exc).__name__)
        await asyncio.sleep(interval)


async def run_retention(
    store: Store, clock: Clock, retention: Callable[[], timedelta], every: float = RETENTION_EVERY
) -> None:
    """Purge now and then every ``every`` seconds; errors are logged, never fatal."""
    while True:
        try:
            await purge_once(store, clock, retention())
        except Exception:
            log.exception("retention.failed")
        await asyncio.sleep(every)


#: in the order they start (``gateway.api.services`` comes before them)
WORKER_CONTEXTS = (delivery_client, workers)
