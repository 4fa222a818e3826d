"""``POST /admin/v1/reload`` and ``POST /admin/v1/retention/run``: the configuration re-read
now, and retention run now, instead of at the next restart or the next hourly pass.

A reload (also SIGHUP, ``gateway.cli.serve``) re-reads the configuration directory, checks it
whole (``gateway.configuration.check``: every file's errors at once, restart-only settings
refused by name), builds the acceptance context from it (keys, schemas, the case definition
checked against the departments) and puts it under the administration overlay. Only when all
of that holds is it swapped in; otherwise the running configuration stays and the errors are
logged (``config.reload_refused``) and answered (422 ``config-invalid``, the list under
``config_errors``). Either way the attempt is audited.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from gateway.administration import ADMIN_ONLY, WRITE_ROLES
from gateway.api.admin import require
from gateway.api.appkeys import ADMINISTRATION, CLOCK, CURRENT, DISPATCHER, OPTIONS, STORE
from gateway.api.openapi import ADMIN_AUTH, answers
from gateway.api.responses import json_response
from gateway.assembly import build_context, load_case_definition
from gateway.audit.chain import AuditEvent
from gateway.clock import utc_iso
from gateway.configuration.check import check_directory
from gateway.problem_types import CONFIG_INVALID
from gateway.problems import ConfigError, DocumentError
from gateway.retention import purge_once

routes = web.RouteTableDef()
log = structlog.get_logger("gateway.config")


async def reload_configuration(app: web.Application, actor: str) -> tuple[str, ...]:
    """Re-read, check and swap in the configuration; the errors (none: it is in force)."""
    administration, current, options = app[ADMINISTRATION], app[CURRENT], app[OPTIONS]
    running = administration.base.config
    directory = running.directory or options.config_dir
    checked = check_directory(directory, running)
    errors = list(checked.errors)
    if checked.config is not None:
        try:
            load_case_definition(checked.config)
            context = current.context
            base = build_context(
                checked.config, context.schemas, options.data_dir, context.gateway_key
            )
            await administration.rebase(base)
        except ConfigError as exc:
            errors.append(exc.detail)
    await _record(app, actor, str(directory), errors)
    return tuple(errors)


async def _record(app: web.Application, actor: str, directory: str, errors: list[str]) -> None:
    config = app[CURRENT].config
    if errors:
        log.error("config.reload_refused", directory=directory, errors=errors)
        detail: dict[str, object] = {"errors": errors[:20]}
    else:
        if DISPATCHER in app:  # new breakers follow a changed policy
            app[DISPATCHER].breakers.policy = config.breaker
        detail = {"departments": len(config.departments), "routes": len(config.routes)}
        log.info("config.reloaded", directory=directory, **detail)
    action = "config.reload_refused" if errors else "config.reloaded"
    now = app[CLOCK].now()
    await app[STORE].append_audit(AuditEvent(action, actor, now, "config", detail))


@routes.post("/admin/v1/reload")
@answers(ADMIN_AUTH, CONFIG_INVALID)
async def reload(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    errors = await reload_configuration(request.app, f"admin:{who.name}")
    if errors:
        raise DocumentError(
            f"the configuration files do not check ({len(errors)} error(s)); the running "
            "configuration is unchanged",
            CONFIG_INVALID,
            extra={"config_errors": list(errors)},
        )
    config = request.app[CURRENT].config
    return json_response(
        {"reloaded": True, "departments": len(config.departments), "routes": len(config.routes)}
    )


@routes.post("/admin/v1/retention/run")
@answers(ADMIN_AUTH)
async def run_retention(request: web.Request) -> web.Response:
    """Purge now what the hourly pass would purge: messages every delivery of which finished
    longer ago than ``gateway.retention``."""
    who = require(request, WRITE_ROLES)
    app = request.app
    retention = app[CURRENT].config.gateway.retention
    purged = await purge_once(app[STORE], app[CLOCK], retention)
    before = utc_iso(app[CLOCK].now() - retention)
    await app[ADMINISTRATION].audit(who, "retention.run", "messages", {"purged": purged})
    return json_response({"purged": purged, "delivered_before": before})
