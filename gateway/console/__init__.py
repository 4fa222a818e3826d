"""The web console at ``/console/``: server-rendered pages for the admin roles.

Every page and form calls the same functions as the admin API (``gateway.api.admin_actions``)
with the same role sets; the console adds only sessions (``session``), the visitor's language
(``text``, ``gateway.language``) and HTML. No script runs in the pages: plain forms and
links, under a Content-Security-Policy that allows only this origin's stylesheet (why: see
docs/decisions.md, "Web console").
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from gateway.console.pages import audit, cases, deliveries, departments, entry, overview, routing
from gateway.console.session import Sessions, load_secret
from gateway.console.text import Catalogue
from gateway.console.visit import CONSOLE, Console

__all__ = ["CONSOLE", "mount", "templates"]


def templates() -> jinja2.Environment:
    """The pages' templates, from the package; escaping on, an unknown name an error."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("gateway.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def mount(app: web.Application, data_dir: Path) -> None:
    """Add the console's routes to ``app``; its secret lives in ``data_dir``."""
    app[CONSOLE] = Console(Sessions(load_secret(data_dir)), templates(), Catalogue.load())
    for module in (entry, overview, departments, routing, deliveries, cases, audit):
        app.router.add_routes(module.routes)
