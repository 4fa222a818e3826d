"""``/admin/v1``: administrator calls. Bearer tokens, stored as SHA-256 hashes, with roles.

This module holds the minimal set the exchange needs (dead letters); the full
administration API (departments, keys, routes, audit) builds on the same ``require``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiohttp import web

from gateway.administration import AdminState, SharedAdminStore, shared_store
from gateway.api.auth import bearer
from gateway.api.keys import RUNTIME
from gateway.api.params import path_number, query_number
from gateway.api.responses import json_response
from gateway.audit.chain import AuditEvent
from gateway.clock import utc_iso
from gateway.configuration.loader import (
    KEY_NAME,
    Place,
    parse_departments,
    parse_duration,
    parse_routes,
)
from gateway.files import create_private, replace_private
from gateway.messages import SignedMessage, strict_loads
from gateway.problems import (
    ConfigError,
    ConflictError,
    DocumentError,
    ForbiddenError,
    MessageError,
    NotFoundError,
)
from gateway.storage.base import GoneEndpoint
from gateway.storage.wakeup import Wakeup
from gateway.trust import KeyRecord

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
        self._tokens: list[AdminToken] = self._read() if path.exists() else []

    def ensure_bootstrap(self) -> str | None:
        """First start: create an admin token (or take GATEWAY_ADMIN_TOKEN) and return it.

        Instances starting together on one data directory race to create the token file.
        It is created atomically (``gateway.files``), so exactly one of them returns its
        token (and writes the clear token out); the others take the winner's file and
        return None, instead of overwriting it with a token of their own.
        """
        if self._tokens:
            return None
        token = os.environ.get("GATEWAY_ADMIN_TOKEN") or secrets.token_urlsafe(32)
        bootstrap = [AdminToken("bootstrap", "admin", _digest(token))]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if create_private(self.path, _dump(bootstrap)):
            self._tokens = bootstrap
            return token
        self._tokens = self._read()  # another instance created the file first
        if self._tokens:
            return None
        self.add("bootstrap", "admin", token)  # the file holds no token at all (emptied by hand)
        return token

    def add(self, name: str, role: str, token: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self._tokens.append(AdminToken(name, role, _digest(token)))
        self._save()

    def _read(self) -> list[AdminToken]:
        raw = orjson.loads(self.path.read_bytes())
        return [AdminToken(t["name"], t["role"], t["sha256"]) for t in raw]

    def _save(self) -> None:
        """Replace the file whole, so an instance starting meanwhile never reads half of it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_private(self.path, _dump(self._tokens))

    def identify(self, token: str) -> AdminToken | None:
        digest = _digest(token)
        for candidate in self._tokens:
            if hmac.compare_digest(candidate.sha256, digest):
                return candidate
        return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _dump(tokens: list[AdminToken]) -> bytes:
    return orjson.dumps([asdict(t) for t in tokens])


ADMIN_TOKENS = web.AppKey("admin_tokens", AdminTokens)
ADMIN_STATE = web.AppKey("admin_state", AdminState)
ADMIN_LOCK = web.AppKey("admin_lock", asyncio.Lock)  # one overlay change at a time
READ_ROLES = frozenset(ROLES)
ADMIN_ONLY = frozenset({"admin"})


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
    seq, recipient = path_number(request, "seq"), request.match_info["recipient"]
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
    # the dispatcher if it is a push delivery, the recipient's live streams if it pulls
    runtime.notifier.notified(Wakeup(True, (recipient,)))
    return json_response({"replayed": True, "sequence": seq, "recipient": recipient})


async def _audit(
    request: web.Request,
    who: AdminToken,
    action: str,
    target: str,
    detail: dict[str, object] | None = None,
) -> None:
    runtime = request.app[RUNTIME]
    await runtime.store.append_audit(
        AuditEvent(action, f"admin:{who.name}", runtime.clock.now(), target, dict(detail or {}))
    )


async def _swap_context(request: web.Request) -> None:
    """Persist the overlay and apply it to the running gateway: the next request sees it.

    With a store shared by several instances the overlay is saved there first, over the
    version it was changed from; if another instance saved meanwhile, this instance takes
    that state instead and the change is refused (409), never silently merged or lost.
    """
    runtime = request.app[RUNTIME]
    async with request.app[ADMIN_LOCK]:
        state = request.app[ADMIN_STATE]
        shared = shared_store(runtime.store)
        if shared is not None:
            if not await shared.save_admin_state(state.to_bytes(), state.version + 1):
                await adopt_shared_state(request.app, shared)
                raise ConflictError(
                    "the configuration was changed through another gateway instance at the "
                    "same time; nothing was changed here: read it again and retry",
                    slug="admin-state-changed",
                )
            state.version += 1
        state.save()
        runtime.context = state.apply(runtime.context)


async def adopt_shared_state(app: web.Application, shared: SharedAdminStore) -> bool:
    """Take the overlay another instance saved, if it is newer than this one's."""
    found = await shared.admin_state()
    current = app[ADMIN_STATE]
    if found is None or found[0] <= current.version:
        return False
    current.take(found[1], found[0])
    current.save()  # the local copy follows the shared one
    runtime = app[RUNTIME]
    runtime.context = current.apply(runtime.context)
    return True


@routes.get("/admin/v1/departments")
async def list_departments(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    gone = await runtime.store.gone_endpoints()
    return json_response(
        {
            "departments": [
                {
                    "id": d.id,
                    "name": d.name,
                    "name_zh": d.name_zh,
                    "enabled": d.enabled,
                    "delivery": d.delivery.mode,
                    "endpoint_gone": _gone_view(gone.get(d.id)),
                    "sends": sorted(d.sends),
                    "receives": sorted(d.receives),
                    "keys": [
                        {
                            "kid": k.kid,
                            "revoked_at": utc_iso(k.revoked_at) if k.revoked_at else None,
                            "usable": k.revoked_at is None or k.revoked_at > now,
                        }
                        for k in runtime.context.keys.for_department(d.id)
                    ],
                }
                for d in runtime.config.departments.values()
            ]
        }
    )


def _gone_view(gone: GoneEndpoint | None) -> dict[str, str] | None:
    return None if gone is None else {"at": utc_iso(gone.at), "reason": gone.reason}


def _department_id(request: web.Request) -> str:
    dept_id = request.match_info["dept"]
    if dept_id not in request.app[RUNTIME].config.departments:
        raise NotFoundError(f"no department {dept_id}", slug="department-not-found")
    return dept_id


@routes.post("/admin/v1/departments/{dept}/disable")
async def disable_department(request: web.Request) -> web.Response:
    return await _set_enabled(request, enabled=False)


@routes.post("/admin/v1/departments/{dept}/enable")
async def enable_department(request: web.Request) -> web.Response:
    return await _set_enabled(request, enabled=True)


async def _set_enabled(request: web.Request, *, enabled: bool) -> web.Response:
    """A disabled department's messages are refused and it is no one's recipient."""
    who = require(request, ADMIN_ONLY)
    dept_id = _department_id(request)
    disabled = request.app[ADMIN_STATE].disabled
    if enabled:
        disabled.discard(dept_id)
    else:
        disabled.add(dept_id)
    await _swap_context(request)
    if enabled and await request.app[RUNTIME].store.clear_gone(dept_id):
        # an endpoint disabled after a 410 is the administrator's to enable again
        await _audit(request, who, "endpoint.enabled", dept_id)
        request.app[RUNTIME].metrics.endpoint_gone.labels(dept_id).set(0)
        request.app[RUNTIME].notifier.wake_dispatcher()
    await _audit(request, who, f"department.{'enabled' if enabled else 'disabled'}", dept_id)
    return json_response({"department": dept_id, "enabled": enabled})


@routes.post("/admin/v1/departments/{dept}/keys/{name}/revoke")
async def revoke_key(request: web.Request) -> web.Response:
    """Revocation applies to the next request: the registry is shared by every request."""
    who = require(request, ADMIN_ONLY)
    dept_id = _department_id(request)
    kid = f"{dept_id}/{request.match_info['name']}"
    runtime = request.app[RUNTIME]
    if runtime.context.keys.get(kid) is None:
        raise NotFoundError(f"no key {kid}", slug="key-not-found")
    now = runtime.clock.now()
    request.app[ADMIN_STATE].revoked[kid] = now
    await _swap_context(request)
    await _audit(request, who, "key.revoked", kid)
    return json_response({"kid": kid, "revoked_at": utc_iso(now)})


@routes.get("/admin/v1/routes")
async def list_routes(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    runtime = request.app[RUNTIME]
    return json_response(
        {
            "routes": [
                {
                    "name": r.name,
                    "type": r.type,
                    "to": list(r.to),
                    "to_pointer": r.to_pointer,
                    "when": {c.pointer: list(c.values) for c in r.when},
                }
                for r in runtime.config.routes
            ]
        }
    )


@routes.post("/admin/v1/routes/dry-run")
async def dry_run(request: web.Request) -> web.Response:
    """Which recipients would this event (or signed message) reach, and why."""
    require(request, READ_ROLES)
    runtime = request.app[RUNTIME]
    document = strict_loads(await request.read())
    event = _event_of(document)
    return json_response(runtime.context.router.decide(event).explain())


def _event_of(document: object) -> dict[str, object]:
    if isinstance(document, dict) and "payload" in document and "signatures" in document:
        parsed = SignedMessage.parse(orjson.dumps(document)).event
        return {
            "id": parsed.id,
            "source": parsed.source,
            "type": parsed.type,
            "subject": parsed.subject,
            "data": parsed.data,
        }
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        return document
    raise MessageError(
        "send a CloudEvent (with type, source, data) or a signed message",
        slug="invalid-dry-run",
    )


@routes.post("/admin/v1/dead-letters/{seq:\\d+}/{recipient}/discard")
async def discard(request: web.Request) -> web.Response:
    who = require(request, WRITE_ROLES)
    runtime = request.app[RUNTIME]
    seq, recipient = path_number(request, "seq"), request.match_info["recipient"]
    done = await runtime.store.discard(
        seq,
        recipient,
        AuditEvent(
            "delivery.discarded",
            f"admin:{who.name}",
            runtime.clock.now(),
            f"seq:{seq}",
            {"recipient": recipient},
        ),
    )
    if not done:
        raise NotFoundError(
            "no dead letter for this sequence and recipient", slug="dead-letter-not-found"
        )
    return json_response({"discarded": True, "sequence": seq, "recipient": recipient})


@routes.get("/admin/v1/audit")
async def audit_entries(request: web.Request) -> web.Response:
    require(request, frozenset({"admin", "auditor"}))
    runtime = request.app[RUNTIME]
    after = query_number(request, "after", 0)
    limit = query_number(request, "limit", 100, minimum=1, maximum=1000)
    action = request.query.get("action")
    records = await runtime.store.audit_entries(after, limit)
    return json_response(
        {
            "entries": [
                {
                    "seq": r.seq,
                    "action": r.event.action,
                    "actor": r.event.actor,
                    "at": utc_iso(r.event.at),
                    "target": r.event.target,
                    "detail": r.event.detail,
                    "hash": r.hash,
                }
                for r in records
                if action is None or r.event.action == action
            ]
        }
    )


async def _json_body(request: web.Request) -> dict[str, Any]:
    document = strict_loads(await request.read())
    if not isinstance(document, dict):
        raise MessageError("the body must be a JSON object", slug="invalid-body")
    return document


@routes.put("/admin/v1/routes")
async def replace_routes(request: web.Request) -> web.Response:
    """A new route table, validated against the departments, in force for the next message."""
    who = require(request, ADMIN_ONLY)
    runtime = request.app[RUNTIME]
    body = await _json_body(request)
    try:
        parsed = parse_routes(body, "request body", runtime.config.departments)
    except ConfigError as exc:
        raise DocumentError(exc.detail, slug="invalid-routes") from None
    state = request.app[ADMIN_STATE]
    version = len(state.route_versions) + 1
    state.route_versions.append(
        {
            "version": version,
            "routes": body.get("routes", []),
            "by": f"admin:{who.name}",
            "at": utc_iso(runtime.clock.now()),
            "note": str(body.get("note", ""))[:200],
        }
    )
    state.active_routes = version
    await _swap_context(request)
    await _audit(request, who, "routes.replaced", f"routes:v{version}", {"routes": len(parsed)})
    return json_response({"version": version, "routes": len(parsed)})


@routes.get("/admin/v1/routes/versions")
async def route_versions(request: web.Request) -> web.Response:
    require(request, READ_ROLES)
    state = request.app[ADMIN_STATE]
    versions = [{"version": 0, "by": "config/routes.toml", "at": None, "note": "as configured"}]
    versions += [{k: v[k] for k in ("version", "by", "at", "note")} for v in state.route_versions]
    return json_response({"active": state.active_routes or 0, "versions": versions})


@routes.post("/admin/v1/routes/versions/{version:\\d+}/rollback")
async def rollback_routes(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    state = request.app[ADMIN_STATE]
    version = path_number(request, "version")
    if version > len(state.route_versions):
        raise NotFoundError(f"no route version {version}", slug="route-version-not-found")
    state.active_routes = version or None
    await _swap_context(request)
    await _audit(request, who, "routes.rolled_back", f"routes:v{version}")
    return json_response({"active": version})


def _new_key(
    request: web.Request, dept_id: str, spec: Any, not_before: datetime
) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, dict) or not isinstance(spec.get("jwk"), dict):
        raise MessageError('send {"name": ..., "jwk": {...public JWK...}}', slug="invalid-body")
    name = spec.get("name")
    if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
        raise MessageError("name: letters, digits, '.', '_' or '-'", slug="invalid-body")
    kid = f"{dept_id}/{name}"
    if request.app[RUNTIME].context.keys.get(kid) is not None:
        raise ConflictError(
            f"the key {kid} already exists; keys are never replaced", slug="key-exists"
        )
    jwk: dict[str, Any] = {**spec["jwk"], "kid": kid}
    KeyRecord(kid, dept_id, jwk, not_before)  # validates: public only, Ed25519 or P-256
    record = {"department": dept_id, "jwk": jwk, "not_before": not_before.isoformat()}
    return kid, record


@routes.post("/admin/v1/departments/{dept}/keys")
async def add_key(request: web.Request) -> web.Response:
    who = require(request, ADMIN_ONLY)
    dept_id = _department_id(request)
    now = request.app[RUNTIME].clock.now()
    kid, record = _new_key(request, dept_id, await _json_body(request), now)
    request.app[ADMIN_STATE].keys[kid] = record
    await _swap_context(request)
    await _audit(request, who, "key.added", kid)
    return json_response({"kid": kid, "not_before": utc_iso(now)}, status=201)


@routes.post("/admin/v1/departments/{dept}/keys/{name}/rotate")
async def rotate_key(request: web.Request) -> web.Response:
    """The new key is valid at once; the old one until the overlap window ends."""
    who = require(request, ADMIN_ONLY)
    dept_id = _department_id(request)
    runtime = request.app[RUNTIME]
    old = f"{dept_id}/{request.match_info['name']}"
    if runtime.context.keys.get(old) is None:
        raise NotFoundError(f"no key {old}", slug="key-not-found")
    body = await _json_body(request)
    overlap = parse_duration(body.get("overlap", "1h"), Place("request body", "overlap"))
    now = runtime.clock.now()
    kid, record = _new_key(request, dept_id, body.get("new"), now)
    state = request.app[ADMIN_STATE]
    state.keys[kid] = record
    state.expiries[old] = now + overlap
    await _swap_context(request)
    await _audit(
        request, who, "key.rotated", old, {"new": kid, "overlap_s": int(overlap.total_seconds())}
    )
    return json_response({"old": old, "old_not_after": utc_iso(now + overlap), "new": kid})


@routes.post("/admin/v1/departments")
async def add_department(request: web.Request) -> web.Response:
    """A new department, given as its departments.toml table in JSON (id, name, sends,
    receives, delivery). Its keys are added with the keys call; it is enabled at once."""
    who = require(request, ADMIN_ONLY)
    runtime = request.app[RUNTIME]
    body = await _json_body(request)
    if body.get("keys"):
        raise MessageError(
            "add keys with POST /admin/v1/departments/{id}/keys", slug="invalid-body"
        )
    try:
        parsed = parse_departments({"departments": [body]}, "request body")
    except ConfigError as exc:
        raise DocumentError(exc.detail, slug="invalid-department") from None
    (department,) = parsed.values()
    if department.id in runtime.config.departments:
        raise ConflictError(f"department {department.id} exists", slug="department-exists")
    unknown = sorted(
        (department.sends | department.receives) - set(runtime.context.schemas.types())
    )
    if unknown:
        raise DocumentError(
            f"document types without a schema: {unknown}", slug="invalid-department"
        )
    request.app[ADMIN_STATE].departments[department.id] = body
    await _swap_context(request)
    await _audit(request, who, "department.added", department.id)
    return json_response({"department": department.id, "enabled": True}, status=201)
