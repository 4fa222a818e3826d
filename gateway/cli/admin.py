"""``gateway admin ...``: the administration API (``/admin/v1``) from the command line.

A plain HTTP client and nothing else: every action is one request to a running gateway, so
what the command can do is exactly what the API allows the token's role to do, and a change
is in force on the gateway when the command returns. The answer is printed as JSON on
standard output, so ``gateway admin routes get > routes.json`` and ``gateway admin routes put
routes.json`` round-trip (the same for a department with ``departments get`` / ``put``).

Where: ``--url`` or ``GATEWAY_URL`` (default ``http://127.0.0.1:8080``). Who: ``--token`` or
``GATEWAY_ADMIN_TOKEN``, else the first line of ``--token-file`` (default ``data/admin-token``,
which ``gateway serve`` writes on its first start). A refusal prints the problem's status,
title and detail (RFC 9457) on standard error and exits 1; a gateway that cannot be reached
exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from gateway.problems import GatewayError

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TOKEN_FILE = Path("data/admin-token")
TIMEOUT_SECONDS = 30.0
ROLES = ("admin", "operator", "auditor")

Build = Callable[[argparse.Namespace], "Call"]


class AdminClientError(GatewayError):
    """The command could not talk to the gateway (unreachable, no token, unreadable file)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One request: method, path under the gateway URL, optional JSON body."""

    method: str
    path: str
    body: Any = None


class Refused(Exception):
    """The gateway answered with a problem (status >= 400)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail", ""))
        self.status = status
        self.problem = problem


def _seg(value: str) -> str:
    """A path segment, percent-encoded whole (an id never becomes two segments)."""
    return quote(value, safe="")


def _json_file(name: str) -> Any:
    """A JSON document from a file, or standard input for ``-``."""
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        return orjson.loads(raw)
    except OSError as exc:
        raise AdminClientError(f"{name}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise AdminClientError(f"{name}: not JSON ({exc})") from None


def _query(path: str, **params: object) -> str:
    given = {k: str(v) for k, v in params.items() if v is not None}
    return f"{path}?{urlencode(given)}" if given else path


# ----------------------------------------------------------------- the actions, as requests

DEPT = "/admin/v1/departments"


def _departments(sub: Any) -> None:
    _action(sub, "list", "every department, its delivery and keys", lambda a: Call("GET", DEPT))
    get = _action(
        sub,
        "get",
        "one department as PUT takes it",
        lambda a: Call("GET", f"{DEPT}/{_seg(a.id)}"),
    )
    get.add_argument("id")
    add = _action(
        sub,
        "add",
        "add a department from a JSON file (its departments.toml table)",
        lambda a: Call("POST", DEPT, _json_file(a.file)),
    )
    add.add_argument("file", help="JSON file, - for standard input")
    put = _action(
        sub,
        "put",
        "replace a department's settings (what get printed, edited)",
        lambda a: Call("PUT", f"{DEPT}/{_seg(a.id)}", _json_file(a.file)),
    )
    put.add_argument("id")
    put.add_argument("file", help="JSON file, - for standard input")
    for verb in ("enable", "disable"):
        p = _action(
            sub,
            verb,
            f"{verb} a department",
            _department_verb(verb),
        )
        p.add_argument("id")
    delivery = _action(
        sub,
        "delivery",
        "set push (with its endpoint) or pull",
        lambda a: Call(
            "PUT",
            f"{DEPT}/{_seg(a.id)}/delivery",
            {"mode": a.mode, **({"endpoint": a.endpoint} if a.endpoint else {})},
        ),
    )
    delivery.add_argument("id")
    delivery.add_argument("--mode", choices=("push", "pull"), required=True)
    delivery.add_argument("--endpoint", help="https URL the gateway POSTs to (push)")


def _department_verb(verb: str) -> Build:
    return lambda a: Call("POST", f"{DEPT}/{_seg(a.id)}/{verb}")


def _keys(sub: Any) -> None:
    listed = _action(
        sub,
        "list",
        "a department's keys",
        lambda a: Call("GET", f"{DEPT}/{_seg(a.department)}/keys"),
    )
    listed.add_argument("department")
    add = _action(
        sub,
        "add",
        "register a public key (in force at once)",
        lambda a: Call(
            "POST", f"{DEPT}/{_seg(a.department)}/keys", {"name": a.name, "jwk": _json_file(a.jwk)}
        ),
    )
    add.add_argument("department")
    add.add_argument("--name", required=True, help="key name; the kid is DEPARTMENT/NAME")
    add.add_argument("--jwk", required=True, help="public JWK file (keys generate wrote it)")
    rotate = _action(
        sub,
        "rotate",
        "add a new key and retire the old one after an overlap",
        lambda a: Call(
            "POST",
            f"{DEPT}/{_seg(a.department)}/keys/{_seg(a.old)}/rotate",
            {"new": {"name": a.name, "jwk": _json_file(a.jwk)}, "overlap": a.overlap},
        ),
    )
    rotate.add_argument("department")
    rotate.add_argument("old", help="the name of the key being replaced")
    rotate.add_argument("--name", required=True, help="the new key's name")
    rotate.add_argument("--jwk", required=True, help="the new public JWK file")
    rotate.add_argument("--overlap", default="1h", help="how long the old key stays valid")
    revoke = _action(
        sub,
        "revoke",
        "revoke a key now",
        lambda a: Call("POST", f"{DEPT}/{_seg(a.department)}/keys/{_seg(a.name)}/revoke"),
    )
    revoke.add_argument("department")
    revoke.add_argument("name")


ROUTES = "/admin/v1/routes"


def _routes(sub: Any) -> None:
    _action(sub, "get", "the route table in force", lambda a: Call("GET", ROUTES))
    put = _action(
        sub,
        "put",
        "put a route table in force (what get printed, edited)",
        lambda a: Call("PUT", ROUTES, _with_note(_json_file(a.file), a.note)),
    )
    put.add_argument("file", help="JSON file, - for standard input")
    put.add_argument("--note", help="why (kept with the version)")
    dry = _action(
        sub,
        "dry-run",
        "which routes an event or signed message matches, and why the others do not",
        lambda a: Call("POST", f"{ROUTES}/dry-run", _json_file(a.file)),
    )
    dry.add_argument("file", help="a CloudEvent or a signed message (JSON), - for stdin")
    _action(
        sub,
        "versions",
        "every route table put in force",
        lambda a: Call("GET", f"{ROUTES}/versions"),
    )
    rollback = _action(
        sub,
        "rollback",
        "put an earlier version in force again (0: config/routes.toml)",
        lambda a: Call("POST", f"{ROUTES}/versions/{a.version}/rollback"),
    )
    rollback.add_argument("version", type=int)


def _with_note(body: Any, note: str | None) -> Any:
    if note is not None and isinstance(body, dict):
        return {**body, "note": note}
    return body


DEAD = "/admin/v1/dead-letters"


def _dead_letters(sub: Any) -> None:
    listed = _action(
        sub,
        "list",
        "deliveries that gave up",
        lambda a: Call("GET", _query(DEAD, recipient=a.recipient)),
    )
    listed.add_argument("--recipient")
    for verb in ("replay", "discard"):
        p = _action(
            sub,
            verb,
            f"{verb} one dead letter",
            _dead_letter_verb(verb),
        )
        p.add_argument("seq", type=int, help="the message's sequence number")
        p.add_argument("recipient")


def _dead_letter_verb(verb: str) -> Build:
    return lambda a: Call("POST", f"{DEAD}/{a.seq}/{_seg(a.recipient)}/{verb}")


def _cases(sub: Any) -> None:
    _action(
        sub,
        "list",
        "open cases, nearest deadline first",
        lambda a: Call("GET", "/admin/v1/cases"),
    )
    get = _action(
        sub, "get", "one case's timeline", lambda a: Call("GET", f"/admin/v1/cases/{_seg(a.id)}")
    )
    get.add_argument("id")


def _audit(sub: Any) -> None:
    listed = _action(
        sub,
        "list",
        "audit entries after a sequence number",
        lambda a: Call(
            "GET", _query("/admin/v1/audit", after=a.after, limit=a.limit, action=a.action)
        ),
    )
    listed.add_argument("--after", type=int)
    listed.add_argument("--limit", type=int)
    listed.add_argument("--action", help="only this action, e.g. routes.replaced")


TOKENS = "/admin/v1/tokens"


def _tokens(sub: Any) -> None:
    create = _action(
        sub,
        "create",
        "a new admin token with a role (its clear value is shown once)",
        lambda a: Call("POST", TOKENS, {"name": a.name, "role": a.role}),
    )
    create.add_argument("name")
    create.add_argument("--role", choices=ROLES, required=True)
    _action(
        sub, "list", "tokens by name and role (never their values)", lambda a: Call("GET", TOKENS)
    )
    revoke = _action(
        sub,
        "revoke",
        "revoke a token at once",
        lambda a: Call("DELETE", f"{TOKENS}/{_seg(a.name)}"),
    )
    revoke.add_argument("name")


def _action(sub: Any, name: str, text: str, build: Build) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=text, description=text)
    parser.set_defaults(build=build)
    return parser


GROUPS: dict[str, tuple[str, Callable[[Any], None]]] = {
    "departments": ("departments: list, get, add, put, enable, disable, delivery", _departments),
    "keys": ("department keys: list, add, rotate, revoke", _keys),
    "routes": ("routes: get, put, dry-run, versions, rollback", _routes),
    "dead-letters": ("dead letters: list, replay, discard", _dead_letters),
    "cases": ("cases: list, get", _cases),
    "audit": ("audit entries: list", _audit),
    "tokens": ("admin tokens: create, list, revoke", _tokens),
}


def register(commands: Any) -> None:
    admin: argparse.ArgumentParser = commands.add_parser(
        "admin",
        help="administer a running gateway over its admin API",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    admin.add_argument("--url", default=os.environ.get("GATEWAY_URL", DEFAULT_URL))
    admin.add_argument("--token", default=os.environ.get("GATEWAY_ADMIN_TOKEN"))
    admin.add_argument("--token-file", type=Path, default=DEFAULT_TOKEN_FILE)
    groups = admin.add_subparsers(dest="admin_group", required=True, metavar="GROUP")
    for name, (text, fill) in GROUPS.items():
        group = groups.add_parser(name, help=text, description=text)
        fill(group.add_subparsers(dest="admin_action", required=True, metavar="ACTION"))
    retention = groups.add_parser("retention", help="retention: run (purge now)")
    _action(
        retention.add_subparsers(dest="admin_action", required=True, metavar="ACTION"),
        "run",
        "purge delivered messages past the retention period now",
        lambda a: Call("POST", "/admin/v1/retention/run"),
    )
    reload = groups.add_parser(
        "reload", help="re-read the configuration files; keep the old ones if they do not check"
    )
    reload.set_defaults(build=lambda a: Call("POST", "/admin/v1/reload"))
    admin.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    call: Call = args.build(args)
    try:
        answer = request(args.url, _token(args), call)
    except Refused as refused:
        problem = refused.problem
        print(
            f"error: {refused.status} {problem.get('title', '')}: {problem.get('detail', '')}",
            file=sys.stderr,
        )
        for error in problem.get("errors", []):
            print(f"  {error.get('pointer', '')}: {error.get('detail', '')}", file=sys.stderr)
        for error in problem.get("config_errors", []):  # a refused reload: every file's
            print(f"  {error}", file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    try:
        token: str = args.token_file.read_text(encoding="utf-8").strip()
    except OSError:
        raise AdminClientError(
            f"no admin token: give --token, set GATEWAY_ADMIN_TOKEN, or --token-file "
            f"(there is none at {args.token_file})"
        ) from None
    return token


def request(url: str, token: str, call: Call) -> Any:
    """Send ``call``; the decoded JSON answer, or ``Refused`` with the problem."""
    data = None if call.body is None else orjson.dumps(call.body)
    req = urllib.request.Request(  # noqa: S310 - the operator names the gateway's URL
        url.rstrip("/") + call.path,
        data=data,
        method=call.method,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, application/problem+json",
            **({"Content-Type": "application/json"} if data is not None else {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read()
            return orjson.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        raise Refused(exc.code, _problem(exc.read(), exc.code)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AdminClientError(f"cannot reach the gateway at {url}: {reason}") from None


def _problem(body: bytes, status: int) -> dict[str, Any]:
    try:
        problem = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {"title": f"HTTP {status}", "detail": "the answer was not a problem document"}
    return problem if isinstance(problem, dict) else {"detail": str(problem)}
