"""The app factory.

``create_app`` reads what the gateway is assembled from (configuration, schemas, keys;
``gateway.assembly``) so a bad configuration fails here, before anything listens. Starting
the app opens, in order, the services (``gateway.api.services``: store, acceptance, case
layer, administration) and the workers (``gateway.api.workers``: dispatcher and its HTTP
session, deadline watch, retention, admin-state follower); stopping closes them in reverse,
so the workers stop before the session and the store they use close.
"""

from __future__ import annotations

import functools

from aiohttp import web

from gateway import console
from gateway.api import (
    admin,
    admin_departments,
    admin_tokens,
    attachments,
    cases,
    inbox,
    maintenance,
    messages,
    operations,
)
from gateway.api.appkeys import OPTIONS, TRANSPORT
from gateway.api.middlewares import metrics, plain_parameters, problems, read_body, request_id
from gateway.api.services import open_services
from gateway.api.workers import WORKER_CONTEXTS, end_streams
from gateway.assembly import build_context, load_static
from gateway.options import Options

# Slack over the message limit so the acceptance code, not aiohttp, answers an oversized
# message with its own problem; anything far larger is cut off by aiohttp itself.
BODY_SLACK = 64 * 1024
ROUTES = (
    messages.routes,
    attachments.routes,
    inbox.routes,
    cases.routes,
    admin.routes,
    admin_departments.routes,
    admin_tokens.routes,
    maintenance.routes,
    operations.routes,
)


def create_app(options: Options | None = None) -> web.Application:
    """The gateway as an aiohttp application (``ConfigError`` for a bad configuration)."""
    options = options or Options()
    config, schemas, gateway_key = load_static(options)
    base = build_context(config, schemas, options.data_dir, gateway_key)
    app = web.Application(
        client_max_size=config.gateway.max_message_bytes + BODY_SLACK,
        middlewares=[request_id, metrics, problems, read_body, plain_parameters],
    )
    app[OPTIONS] = options
    app[TRANSPORT] = config.http
    app.cleanup_ctx.append(functools.partial(open_services, base=base))
    app.cleanup_ctx.extend(WORKER_CONTEXTS)
    app.on_shutdown.append(end_streams)
    for table in ROUTES:
        app.router.add_routes(table)
    console.mount(app, options.data_dir)
    return app
