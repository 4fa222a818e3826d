"""The services of a running gateway, built once when the app starts, each under its own
typed key (``gateway.api.appkeys``), and never replaced afterwards.

Order: the store opens; the acceptance context in force is made (configuration as loaded,
plus the administrative overlay, ``Administration``); the way in (``Intake``) over the
acceptor; the case service, which sends through that intake; and the intake the HTTP
handler uses, which also lets the case service observe every new message. The store closes
last, after the workers (``gateway.api.workers``) have stopped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from gateway.acceptance import AcceptanceContext, Acceptor, CurrentContext
from gateway.administration import Administration, AdminTokens, bootstrap, load_state
from gateway.api.appkeys import (
    ADMIN_TOKENS,
    ADMINISTRATION,
    CASES,
    CHAIN_WATCH,
    CLOCK,
    CURRENT,
    DEPARTMENT_TOKENS,
    INTAKE,
    METRICS,
    NOTIFIER,
    OPTIONS,
    PROTECTION,
    STORE,
)
from gateway.assembly import load_case_definition, load_case_key
from gateway.audit.watch import ChainWatch
from gateway.cases import CaseService
from gateway.delivery import Notifier
from gateway.encryption.protection import load_protection
from gateway.intake import Intake
from gateway.metrics import Metrics
from gateway.options import Options
from gateway.storage.base import Store
from gateway.storage.factory import open_store
from gateway.trust import TokenVerifier

log = structlog.get_logger("gateway.app")


async def open_services(app: web.Application, base: AcceptanceContext) -> AsyncIterator[None]:
    """``cleanup_ctx``: open the store, build every service on it; close the store last."""
    options = app[OPTIONS]
    crypto = base.config.crypto
    app[PROTECTION] = load_protection(base.config, options.data_dir)
    store = open_store(
        options.database or options.data_dir / "gateway.sqlite3",
        options.clock,
        protection=app[PROTECTION],
        digest=crypto.digest,
    )
    await store.open()
    try:
        await _build(app, options, base, store)
        yield
    finally:
        await store.close()


async def _build(
    app: web.Application, options: Options, base: AcceptanceContext, store: Store
) -> None:
    clock, config = options.clock, base.config
    state_file = options.data_dir / "admin-state.json"
    state = load_state(state_file)
    current = CurrentContext(state.apply(base))
    notifier = Notifier()
    # labels follow the departments in force (added through the API, or by a reload)
    metrics = Metrics(base.schemas.types(), lambda: current.config.departments)
    administration = Administration(
        base=base,
        state=state,
        current=current,
        path=state_file,
        store=store,
        clock=clock,
        notifier=notifier,
    )
    await administration.share_at_start()
    intake = Intake(Acceptor(current, store, clock), metrics, notifier)
    cases = await _case_service(options, current, store, intake, metrics)
    app[CLOCK] = clock
    app[STORE] = store
    app[CURRENT] = current
    app[NOTIFIER] = notifier
    app[METRICS] = metrics
    app[CHAIN_WATCH] = ChainWatch()
    app[ADMINISTRATION] = administration
    app[ADMIN_TOKENS] = _admin_tokens(options, administration)
    app[DEPARTMENT_TOKENS] = TokenVerifier(
        current, config.gateway.id, clock, config.gateway.token_lifetime
    )
    app[CASES] = cases
    app[INTAKE] = intake if cases is None else intake.observed_by(cases)


async def _case_service(
    options: Options, current: CurrentContext, store: Store, intake: Intake, metrics: Metrics
) -> CaseService | None:
    """The hosted case service when gateway.toml names a case definition. It sends through
    ``intake`` (its own messages are never observed by itself)."""
    definition = load_case_definition(current.config)
    if definition is None:
        return None
    key = load_case_key(current.config, options.data_dir, definition)
    hosted = dataclasses.replace(intake, hosted=True)  # the case's times, not a clock's
    service = CaseService(definition, store, hosted, key, options.clock, metrics)
    await service.refresh_gauge()
    return service


def _admin_tokens(options: Options, administration: Administration) -> AdminTokens:
    tokens, made = bootstrap(options.data_dir, lambda: administration.state)
    if made:
        log.warning(
            "admin.bootstrap_token_created",
            path=str(tokens.path),
            hint="the clear token is in admin-token in the data directory",
        )
    return tokens
