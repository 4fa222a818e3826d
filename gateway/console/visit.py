"""One request to the console: who is asking (session), in which language, with which rights,
and the response's security headers.

Every console handler is wrapped by ``page`` (read only) or ``change`` (a form that changes
something). Both find the session or send the browser to the login page, check the role
against the same role sets as the admin API, and answer a refused role, a failed CSRF check
or a ``GatewayError`` with a page in the visitor's language, never a traceback. ``change``
also requires the form's CSRF token and, when the browser sends them, a same-origin
``Origin`` and ``Sec-Fetch-Site`` (OWASP CSRF Prevention Cheat Sheet, defence in depth).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jinja2
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDictProxy

from gateway.administration import ADMIN_ONLY, AUDIT_ROLES, WRITE_ROLES, AdminToken
from gateway.api.appkeys import ADMIN_TOKENS
from gateway.console.session import COOKIE, Session, Sessions
from gateway.console.text import Catalogue
from gateway.language import Language, negotiate, parse
from gateway.problems import GatewayError

log = structlog.get_logger("gateway.console")

LANGUAGE_COOKIE = "zjx_lang"
BASE = "/console/"

#: Only this origin's stylesheet; no script at all; forms post only here; never framed.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True, slots=True)
class Console:
    """What the console holds for the app's lifetime."""

    sessions: Sessions
    templates: jinja2.Environment
    text: Catalogue


CONSOLE = web.AppKey("console", Console)


class Refused(Exception):
    """The console refuses this request; ``key`` names the explanation in the catalogue."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


@dataclass(frozen=True, slots=True)
class Visit:
    request: web.Request
    console: Console
    language: Language
    who: AdminToken | None = None
    session: Session | None = None
    form: Mapping[str, str] | None = None

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def admin(self) -> AdminToken:
        if self.who is None:  # only pages behind a login reach this
            raise Refused(401, "error.login_required")
        return self.who

    def t(self, key: str, **params: Any) -> str:
        return self.console.text.text(self.language, key, **params)

    def field(self, name: str, default: str = "") -> str:
        return (self.form or {}).get(name, default)

    def notice(self, *known: str) -> str | None:
        """The message key for ``?done=`` after a post/redirect/get, if it is one of ``known``
        (nothing from the query string reaches the page but a known key)."""
        done = self.request.query.get("done", "")
        return f"done.{done}" if done in known else None

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        context.setdefault("notice", None)
        who = self.who
        body = self.console.templates.get_template(template).render(
            t=self.t,
            lang=self.language,
            who=who,
            csrf=self.console.sessions.csrf(self.session) if self.session else "",
            here=self.request.path_qs,
            can_admin=who is not None and who.role in ADMIN_ONLY,
            can_handle=who is not None and who.role in WRITE_ROLES,
            can_audit=who is not None and who.role in AUDIT_ROLES,
            problem=self.problem,
            **context,
        )
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")

    def problem(self, error: GatewayError) -> tuple[str, str]:
        """An error's title and detail in the visitor's language, from the problem catalogue
        (what the API answers under the same ``Accept-Language``)."""
        return error.problem.localized(self.language, error.detail)

    def failed(self, error: GatewayError) -> web.Response:
        return self.render("error.html", status=error.status, error=error, back=self._back())

    def _back(self) -> str:
        referer = urlsplit(self.request.headers.get("Referer", ""))
        path = referer.path if referer.netloc == self.request.host else ""
        return path if path.startswith(BASE) else BASE


def language_of(request: web.Request) -> Language:
    """The switch (a cookie) if set, else the browser's ``Accept-Language``."""
    chosen = parse(request.cookies.get(LANGUAGE_COOKIE))
    return chosen or negotiate(request.headers.get("Accept-Language"))


R = TypeVar("R", bound=web.StreamResponse)


def secured(response: R) -> R:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def redirect(location: str) -> web.Response:
    """303 See Other: after a form post the browser GETs the page again (post/redirect/get)."""
    return secured(web.Response(status=303, headers={"Location": location}))


def set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        path=BASE,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=None,
    )


View = Callable[[Visit], Awaitable[web.StreamResponse]]


def page(roles: frozenset[str]) -> Callable[[View], Handler]:
    """A read-only page for ``roles``."""
    return lambda view: _guarded(view, roles, changes=False)


def change(roles: frozenset[str]) -> Callable[[View], Handler]:
    """A form post that changes something, for ``roles``; CSRF-checked."""
    return lambda view: _guarded(view, roles, changes=True)


def _guarded(view: View, roles: frozenset[str], *, changes: bool) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        console = request.app[CONSOLE]
        visit = Visit(request, console, language_of(request))
        session = console.sessions.read(request.cookies.get(COOKIE))
        who = _holder(request, session)
        if session is None or who is None:
            return redirect(BASE + "login")
        visit = Visit(request, console, visit.language, who, session)
        try:
            if who.role not in roles:
                raise Refused(403, "error.role")
            if changes:
                visit = await _checked_form(visit, session)
            response = await view(visit)
        except Refused as refused:
            log.warning("console.refused", reason=refused.key, role=who.role)
            response = visit.render("error.html", status=refused.status, refused=refused.key)
        except GatewayError as error:
            response = visit.failed(error)
        if console.sessions.ended(session):
            response.del_cookie(COOKIE, path=BASE)
        else:
            set_session_cookie(request, response, console.sessions.renew(session)[1])
        return secured(response)

    return handler


def _holder(request: web.Request, session: Session | None) -> AdminToken | None:
    """The token the session was issued for, if it still exists with the same secret."""
    if session is None:
        return None
    return request.app[ADMIN_TOKENS].holder(session.name, session.token_hash)


async def _checked_form(visit: Visit, session: Session) -> Visit:
    request = visit.request
    if not _same_origin(request):
        raise Refused(403, "error.csrf")
    form: MultiDictProxy[Any] = await request.post()
    given = form.get("csrf")
    if not isinstance(given, str) or not visit.console.sessions.csrf_holds(session, given):
        raise Refused(403, "error.csrf")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return Visit(request, visit.console, visit.language, visit.who, session, fields)


def _same_origin(request: web.Request) -> bool:
    """False when the browser says the form came from elsewhere (missing headers pass: the
    CSRF token is the check every client gets)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host
