"""``/admin/v1``: administrator calls. Bearer tokens, stored as SHA-256 hashes, with roles.

This module holds the minimal set the exchange needs (dead letters); the full
administration API (departments, keys, routes, audit) builds on the same ``require``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
import structlog
from aiohttp import web

from gateway.api.auth import bearer
from gateway.api.keys import RUNTIME
from gateway.api.responses import json_response
from gateway.audit.chain import AuditEvent
from gateway.clock import utc_iso
from gateway.problems import ForbiddenError, NotFoundError

routes = web.RouteTableDef()
log = structlog.get_logger("gateway.admin")
ROLES = ("admin", "operator", "auditor")
# Which role may do what: an auditor reads, an operator also handles dead letters.
WRITE_ROLES = frozenset({"admin", "operator"})


@dataclass(frozen=True, slots=True)
class AdminToken:
    name: str
    role: str
    sha256: str


class AdminTokens:
    """Tokens live in ``<data-dir>/admin-tokens.json`` as hashes; the clear token is shown once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tokens: list[AdminToken] = []
        if path.exists():
            raw = orjson.loads(path.read_bytes())
            self._tokens = [AdminToken(t["name"], t["role"], t["sha256"]) for t in raw]

    def ensure_bootstrap(self) -> str | None:
        """First start: create an admin token (or take GATEWAY_ADMIN_TOKEN) and return it."""
        if self._tokens:
            return None
        token = os.environ.get("GATEWAY_ADMIN_TOKEN") or secrets.token_urlsafe(32)
        self.add("bootstrap", "admin", token)
        return token

    def add(self, name: str, role: str, token: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        digest = hashlib.sha256(token.encode()).hexdigest()
        self._tokens.append(AdminToken(name, role, digest))
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps([asdict(t) for t in self._tokens])
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def identify(self, token: str) -> AdminToken | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        for candidate in self._tokens:
            if hmac.compare_digest(candidate.sha256, digest):
                return candidate
        return None


ADMIN_TOKENS = web.AppKey("admin_tokens", AdminTokens)


def require(request: web.Request, roles: frozenset[str]) -> AdminToken:
    tokens = request.app[ADMIN_TOKENS]
    found = tokens.identify(bearer(request))
    if found is None:
        raise ForbiddenError("not an administrator token", slug="admin-token-invalid")
    if found.role not in roles:
        raise ForbiddenError(f"role {found.role!r} may not do this", slug="role-forbidden")
    return found


@routes.get("/admin/v1/dead-letters")
async def list_dead(request: web.Request) -> web.Response:
    require(request, frozenset(ROLES))
    runtime = request.app[RUNTIME]
    recipient = request.query.get("recipient")
    records = await runtime.store.list_dead(recipient, 500)
    return json_response(
        {
            "dead_letters": [
                {
                    "sequence": d.seq,
                    "recipient": d.recipient,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "accepted_at": utc_iso(d.accepted_at) if d.accepted_at else None,
                }
                for d in records
            ]
        }
    )


@routes.post("/admin/v1/dead-letters/{seq:\\d+}/{recipient}/replay")
async def replay(request: web.Request) -> web.Response:
    who = require(request, WRITE_ROLES)
    runtime = request.app[RUNTIME]
    seq, recipient = int(request.match_info["seq"]), request.match_info["recipient"]
    now = runtime.clock.now()
    done = await runtime.store.replay(
        seq,
        recipient,
        now,
        AuditEvent(
            "delivery.replayed", f"admin:{who.name}", now, f"seq:{seq}", {"recipient": recipient}
        ),
    )
    if not done:
        raise NotFoundError(
            "no dead letter for this sequence and recipient", slug="dead-letter-not-found"
        )
    runtime.notifier.wake_dispatcher()
    return json_response({"replayed": True, "sequence": seq, "recipient": recipient})
