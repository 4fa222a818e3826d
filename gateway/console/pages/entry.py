"""Login, logout, the language switch and the stylesheet: the parts with no session yet."""

from __future__ import annotations

from importlib import resources

import structlog
from aiohttp import web

from gateway.administration import READ_ROLES
from gateway.api.appkeys import ADMIN_TOKENS, ADMINISTRATION
from gateway.console.session import COOKIE, LOGIN_COOKIE
from gateway.console.visit import (
    BASE,
    CONSOLE,
    LANGUAGE_COOKIE,
    Visit,
    change,
    language_of,
    redirect,
    secured,
    set_session_cookie,
)
from gateway.language import parse

routes = web.RouteTableDef()
log = structlog.get_logger("gateway.console")
ONE_YEAR = 365 * 24 * 3600


@routes.get("/console")
async def bare(request: web.Request) -> web.StreamResponse:
    return secured(web.Response(status=301, headers={"Location": BASE}))


@routes.get("/console/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    if console.sessions.read(request.cookies.get(COOKIE)) is not None:
        return redirect(BASE)
    return _login_page(request, status=200, error=None)


def _login_page(request: web.Request, *, status: int, error: str | None) -> web.StreamResponse:
    console = request.app[CONSOLE]
    nonce, csrf = console.sessions.login_nonce()
    visit = Visit(request, console, language_of(request))
    response = visit.render("login.html", status=status, login_csrf=csrf, error=error)
    response.set_cookie(
        LOGIN_COOKIE, nonce, path=BASE, httponly=True, samesite="Strict", secure=request.secure
    )
    return secured(response)


@routes.post("/console/login")
async def login(request: web.Request) -> web.StreamResponse:
    """An administrator token in, a session cookie out. A wrong token is a 403 page that says
    only that (no hint which part was wrong); nothing of the token is logged."""
    console = request.app[CONSOLE]
    form = await request.post()
    csrf, token = form.get("csrf"), form.get("token")
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not isinstance(csrf, str) or not console.sessions.login_csrf_holds(nonce, csrf):
        return _login_page(request, status=403, error="error.csrf")
    found = request.app[ADMIN_TOKENS].identify(token) if isinstance(token, str) else None
    if found is None or found.role not in READ_ROLES:
        log.warning("console.login_refused")
        return _login_page(request, status=403, error="login.refused")
    _, cookie = console.sessions.issue(found.name, found.sha256)
    await request.app[ADMINISTRATION].audit(found, "console.login", f"admin:{found.name}")
    response = redirect(BASE)
    set_session_cookie(request, response, cookie)
    response.del_cookie(LOGIN_COOKIE, path=BASE)
    return response


@routes.post("/console/logout")
@change(READ_ROLES)
async def logout(visit: Visit) -> web.StreamResponse:
    if visit.session is not None:
        visit.console.sessions.end(visit.session)
    return redirect(BASE + "login")


@routes.get("/console/language")
async def switch_language(request: web.Request) -> web.StreamResponse:
    """``?set=zh|en&next=/console/...``: remember the choice (a cookie), go back."""
    chosen = parse(request.query.get("set"))
    target = request.query.get("next", BASE)
    if not target.startswith(BASE) or "//" in target or "\\" in target:
        target = BASE
    response = redirect(target)
    if chosen is not None:
        response.set_cookie(LANGUAGE_COOKIE, chosen, path=BASE, samesite="Strict", max_age=ONE_YEAR)
    return response


STATIC = {"console.css": "text/css", "favicon.svg": "image/svg+xml"}


@routes.get("/console/static/{name}")
async def static(request: web.Request) -> web.StreamResponse:
    """The stylesheet and the icon, from the package (a fixed list: no path from the URL
    reaches the file system)."""
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    body = resources.files("gateway.console").joinpath("static", name).read_bytes()
    response = web.Response(body=body, content_type=STATIC[name])
    secured(response)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
