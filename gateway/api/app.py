"""The app factory. Resources are opened and closed in ``cleanup_ctx``, in this order:
runtime (configuration, keys, schemas, store), HTTP client session, dispatcher task; closing
runs in reverse, so the dispatcher stops before the session and the store it uses close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from gateway import console
from gateway.acceptance import Acceptor
from gateway.administration import AdminState, SharedAdminStore, shared_store
from gateway.api import admin, cases, inbox, messages, operations
from gateway.api.admin_actions import ADMIN_LOCK, ADMIN_STATE, adopt_shared_state
from gateway.api.admin_tokens import ADMIN_TOKENS, AdminTokens
from gateway.api.keys import RUNTIME
from gateway.api.middlewares import metrics, plain_parameters, problems, request_id
from gateway.cases.service import CaseService
from gateway.delivery import Dispatcher, Notifier, Pusher
from gateway.files import replace_private
from gateway.metrics import Metrics
from gateway.retention import run_retention
from gateway.runtime import (
    Options,
    Runtime,
    build_context,
    load_case_definition,
    load_case_key,
    load_static,
)
from gateway.storage.factory import open_store
from gateway.trust import TokenVerifier

log = structlog.get_logger("gateway.app")

# Slack over the message limit so the acceptance code, not aiohttp, answers an oversized
# message with its own problem; anything far larger is cut off by aiohttp itself.
BODY_SLACK = 64 * 1024


def create_app(options: Options | None = None) -> web.Application:
    options = options or Options()
    config, schemas, gateway_key = load_static(options)
    app = web.Application(
        client_max_size=config.gateway.max_message_bytes + BODY_SLACK,
        middlewares=[request_id, metrics, problems, plain_parameters],
    )
    admin_state = AdminState.load(options.data_dir / "admin-state.json")
    context = admin_state.apply(build_context(config, schemas, options.data_dir, gateway_key))
    app[ADMIN_STATE] = admin_state
    app[ADMIN_LOCK] = asyncio.Lock()
    app[ADMIN_TOKENS] = AdminTokens(options.data_dir / "admin-tokens.json")
    bootstrap = app[ADMIN_TOKENS].ensure_bootstrap()
    if bootstrap is not None:
        log.warning(
            "admin.bootstrap_token_created",
            path=str(app[ADMIN_TOKENS].path),
            hint="the clear token is in admin-token in the data directory",
        )
        _write_private(options.data_dir / "admin-token", bootstrap)

    async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
        store = open_store(options.database or options.data_dir / "gateway.sqlite3", options.clock)
        await store.open()
        metrics_ = Metrics(schemas.types(), [*config.departments, "other"])
        notifier = Notifier()
        runtime = Runtime(
            options=options,
            context=context,
            store=store,
            clock=options.clock,
            metrics=metrics_,
            notifier=notifier,
            acceptor=Acceptor(lambda: app[RUNTIME].context, store, options.clock),
            tokens=TokenVerifier(
                context.keys,
                config.gateway.id,
                options.clock,
                config.gateway.token_lifetime,
            ),
        )
        definition = load_case_definition(runtime.config)
        if definition is not None:
            runtime.cases = CaseService(
                definition,
                store,
                runtime.acceptor,
                load_case_key(runtime.config, options.data_dir, definition),
                options.clock,
                metrics_,
                runtime.committed,
            )
            await runtime.cases.refresh_gauge()
        app[RUNTIME] = runtime
        await share_admin_state(app)
        try:
            yield
        finally:
            await store.close()

    async def client_ctx(app: web.Application) -> AsyncIterator[None]:
        runtime = app[RUNTIME]
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=32, ttl_dns_cache=300)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=30, connect=5),
            headers={"User-Agent": "zj-exchange-gateway/0.1"},
        )
        runtime.dispatcher = Dispatcher(
            runtime.store,
            runtime.clock,
            lambda: app[RUNTIME].config,
            Pusher(session),
            runtime.metrics,
            runtime.notifier,
            owner=runtime.instance,
            poll_interval=options.poll_interval,
            lease_seconds=options.lease_seconds,
        )
        try:
            yield
        finally:
            await session.close()

    async def dispatcher_ctx(app: web.Application) -> AsyncIterator[None]:
        runtime = app[RUNTIME]
        tasks = []
        listen = getattr(runtime.store, "listen", None)
        if listen is not None:
            # Other instances' commits wake this dispatcher and this instance's live streams
            # too (PostgreSQL LISTEN/NOTIFY); streams are served without a dispatcher as well.
            await listen(runtime.notifier.notified)
        if options.run_dispatcher and runtime.dispatcher is not None:
            tasks.append(asyncio.create_task(runtime.dispatcher.run_forever(), name="dispatcher"))
            tasks.append(
                asyncio.create_task(
                    run_retention(
                        runtime.store, runtime.clock, lambda: app[RUNTIME].config.gateway.retention
                    ),
                    name="retention",
                )
            )
        shared = shared_store(runtime.store)
        if shared is not None:
            tasks.append(
                asyncio.create_task(
                    follow_admin_state(app, shared, options.admin_poll), name="admin-state"
                )
            )
        if options.run_dispatcher and runtime.cases is not None:
            interval = runtime.config.cases.check_interval.total_seconds()
            tasks.append(
                asyncio.create_task(watch_deadlines(runtime.cases, interval), name="deadlines")
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def end_streams(app: web.Application) -> None:
        app[RUNTIME].notifier.close()

    app.on_shutdown.append(end_streams)
    app.cleanup_ctx.extend([runtime_ctx, client_ctx, dispatcher_ctx])
    for table in (messages.routes, inbox.routes, cases.routes, admin.routes, operations.routes):
        app.router.add_routes(table)
    console.mount(app, options.data_dir)
    return app


async def share_admin_state(app: web.Application) -> None:
    """On a store shared by several instances the overlay lives there: take it, or seed it
    from this data directory's admin-state.json when this is the first instance with one."""
    shared = shared_store(app[RUNTIME].store)
    if shared is None:
        return
    async with app[ADMIN_LOCK]:
        if await adopt_shared_state(app, shared):
            return
        state = app[ADMIN_STATE]
        if state.version == 0 and not state.is_empty():
            if await shared.save_admin_state(state.to_bytes(), 1):
                state.version = 1
            else:
                await adopt_shared_state(app, shared)


async def follow_admin_state(
    app: web.Application, shared: SharedAdminStore, interval: float
) -> None:
    """Every ``interval`` seconds, take a change another instance saved (one cheap query)."""
    while True:
        await asyncio.sleep(interval)
        try:
            if await shared.admin_state_version() > app[ADMIN_STATE].version:
                async with app[ADMIN_LOCK]:
                    await adopt_shared_state(app, shared)
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


def _write_private(path: Path, text: str) -> None:
    """Mode 0600, and whole or not at all: another instance or an operator reading it at
    the same moment never sees half a token."""
    replace_private(path, (text + "\n").encode())
