"""What administrators can do, once, for every way in: the admin API's handlers and the web
console both call these functions (they only parse their own input and shape their output).

Each change is checked whole before anything is kept, persisted in the overlay
(``gateway.administration``), applied to the running gateway for the next request, and written
to the audit chain under the administrator's token name. Errors are ``GatewayError``s with a
problem slug, the same for both ways in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from gateway.administration import AdminState, SharedAdminStore, shared_store
from gateway.api.admin_tokens import AdminToken
from gateway.api.keys import RUNTIME
from gateway.audit import checkpoints
from gateway.audit.chain import AuditEvent
from gateway.audit.verify import Row, verify_rows
from gateway.clock import utc_iso
from gateway.configuration.loader import (
    KEY_NAME,
    Place,
    parse_delivery,
    parse_departments,
    parse_duration,
    parse_routes,
)
from gateway.configuration.model import Route
from gateway.messages import SignedMessage, strict_loads
from gateway.problems import (
    ConfigError,
    ConflictError,
    DocumentError,
    MessageError,
    NotFoundError,
)
from gateway.storage.base import AuditRecord
from gateway.storage.wakeup import Wakeup
from gateway.trust import KeyRecord

ADMIN_STATE = web.AppKey("admin_state", AdminState)
ADMIN_LOCK = web.AppKey("admin_lock", asyncio.Lock)  # one overlay change at a time
AUDIT_PAGE = 1000
AUDIT_SCAN = 50_000  # entries one search reads at most


async def audit(
    app: web.Application,
    who: AdminToken,
    action: str,
    target: str,
    detail: Mapping[str, object] | None = None,
) -> None:
    runtime = app[RUNTIME]
    await runtime.store.append_audit(
        AuditEvent(action, f"admin:{who.name}", runtime.clock.now(), target, dict(detail or {}))
    )


async def swap_context(app: web.Application) -> None:
    """Persist the overlay and apply it to the running gateway: the next request sees it.

    With a store shared by several instances the overlay is saved there first, over the
    version it was changed from; if another instance saved meanwhile, this instance takes
    that state instead and the change is refused (409), never silently merged or lost.
    """
    runtime = app[RUNTIME]
    async with app[ADMIN_LOCK]:
        state = app[ADMIN_STATE]
        shared = shared_store(runtime.store)
        if shared is not None:
            if not await shared.save_admin_state(state.to_bytes(), state.version + 1):
                await adopt_shared_state(app, shared)
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


# ---------------------------------------------------------------------------- departments


def departments(app: web.Application) -> list[dict[str, Any]]:
    """Every department with its state: enabled, delivery (mode, endpoint, gone after a 410,
    breaker), document types and keys (usable or revoked, expiring)."""
    runtime = app[RUNTIME]
    now = runtime.clock.now()
    dispatcher = runtime.dispatcher
    breakers = dispatcher.breakers.states(now) if dispatcher else {}
    return [
        {
            "id": d.id,
            "name": d.name,
            "name_zh": d.name_zh,
            "enabled": d.enabled,
            "delivery": d.delivery.mode,
            "endpoint": d.delivery.endpoint,
            "gone": dispatcher is not None and d.id in dispatcher.gone,
            "breaker": str(breakers.get(d.id, "closed")),
            "sends": sorted(d.sends),
            "receives": sorted(d.receives),
            "keys": [_key_state(k, now) for k in runtime.context.keys.for_department(d.id)],
        }
        for d in runtime.config.departments.values()
    ]


def _key_state(key: KeyRecord, now: datetime) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "revoked_at": utc_iso(key.revoked_at) if key.revoked_at else None,
        "not_after": utc_iso(key.not_after) if key.not_after else None,
        "usable": (key.revoked_at is None or key.revoked_at > now)
        and (key.not_after is None or key.not_after > now),
    }


def department_id(app: web.Application, dept_id: str) -> str:
    if dept_id not in app[RUNTIME].config.departments:
        raise NotFoundError(f"no department {dept_id}", slug="department-not-found")
    return dept_id


async def add_department(app: web.Application, who: AdminToken, body: Mapping[str, Any]) -> str:
    """A new department, given as its departments.toml table (id, name, sends, receives,
    delivery); enabled at once. Keys are added with ``add_key``. Returns its id."""
    runtime = app[RUNTIME]
    if body.get("keys"):
        raise MessageError(
            "add keys with POST /admin/v1/departments/{id}/keys", slug="invalid-body"
        )
    try:
        parsed = parse_departments({"departments": [dict(body)]}, "request body")
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
    app[ADMIN_STATE].departments[department.id] = dict(body)
    await swap_context(app)
    await audit(app, who, "department.added", department.id)
    return department.id


async def set_enabled(app: web.Application, who: AdminToken, dept_id: str, enabled: bool) -> None:
    """A disabled department's messages are refused and it is no one's recipient."""
    department_id(app, dept_id)
    disabled = app[ADMIN_STATE].disabled
    if enabled:
        disabled.discard(dept_id)
    else:
        disabled.add(dept_id)
    await swap_context(app)
    await audit(app, who, f"department.{'enabled' if enabled else 'disabled'}", dept_id)


async def set_delivery(
    app: web.Application, who: AdminToken, dept_id: str, table: Any
) -> dict[str, Any]:
    """Push (with its endpoint) or pull, as the department's ``delivery`` table in
    departments.toml. Applies to messages accepted from now on; deliveries already made keep
    the mode they were made with. A new endpoint clears the "gone" mark a 410 left."""
    department_id(app, dept_id)
    try:
        settings = parse_delivery(table, "request body")
    except ConfigError as exc:
        raise DocumentError(exc.detail, slug="invalid-delivery") from None
    app[ADMIN_STATE].delivery[dept_id] = dict(table)
    await swap_context(app)
    dispatcher = app[RUNTIME].dispatcher
    if dispatcher is not None:
        dispatcher.gone.discard(dept_id)
    detail = {"mode": settings.mode, "endpoint": settings.endpoint}
    await audit(app, who, "department.delivery_changed", dept_id, detail)
    return {"department": dept_id, **detail}


async def revoke_key(app: web.Application, who: AdminToken, dept_id: str, name: str) -> str:
    """Revocation applies to the next request: the registry is shared by every request.
    Returns the time of revocation."""
    department_id(app, dept_id)
    kid = f"{dept_id}/{name}"
    runtime = app[RUNTIME]
    if runtime.context.keys.get(kid) is None:
        raise NotFoundError(f"no key {kid}", slug="key-not-found")
    now = runtime.clock.now()
    app[ADMIN_STATE].revoked[kid] = now
    await swap_context(app)
    await audit(app, who, "key.revoked", kid)
    return utc_iso(now)


def _new_key(
    app: web.Application, dept_id: str, spec: Any, not_before: datetime
) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, dict) or not isinstance(spec.get("jwk"), dict):
        raise MessageError('send {"name": ..., "jwk": {...public JWK...}}', slug="invalid-body")
    name = spec.get("name")
    if not isinstance(name, str) or not KEY_NAME.match(name):
        raise MessageError("name: letters, digits, '.', '_' or '-'", slug="invalid-body")
    kid = f"{dept_id}/{name}"
    if app[RUNTIME].context.keys.get(kid) is not None:
        raise ConflictError(
            f"the key {kid} already exists; keys are never replaced", slug="key-exists"
        )
    jwk: dict[str, Any] = {**spec["jwk"], "kid": kid}
    KeyRecord(kid, dept_id, jwk, not_before)  # validates: public only, Ed25519 or P-256
    record = {"department": dept_id, "jwk": jwk, "not_before": not_before.isoformat()}
    return kid, record


async def add_key(app: web.Application, who: AdminToken, dept_id: str, spec: Any) -> str:
    """A new public key (``{"name", "jwk"}``), valid at once; returns its kid."""
    department_id(app, dept_id)
    now = app[RUNTIME].clock.now()
    kid, record = _new_key(app, dept_id, spec, now)
    app[ADMIN_STATE].keys[kid] = record
    await swap_context(app)
    await audit(app, who, "key.added", kid)
    return kid


async def rotate_key(
    app: web.Application, who: AdminToken, dept_id: str, name: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """The new key (``body["new"]``) is valid at once; the old one until the overlap window
    (``body["overlap"]``, a duration such as ``1h``) ends."""
    department_id(app, dept_id)
    runtime = app[RUNTIME]
    old = f"{dept_id}/{name}"
    if runtime.context.keys.get(old) is None:
        raise NotFoundError(f"no key {old}", slug="key-not-found")
    overlap = parse_duration(body.get("overlap", "1h"), Place("request body", "overlap"))
    now = runtime.clock.now()
    kid, record = _new_key(app, dept_id, body.get("new"), now)
    state = app[ADMIN_STATE]
    state.keys[kid] = record
    state.expiries[old] = now + overlap
    await swap_context(app)
    await audit(
        app, who, "key.rotated", old, {"new": kid, "overlap_s": int(overlap.total_seconds())}
    )
    return {"old": old, "old_not_after": utc_iso(now + overlap), "new": kid}


# ---------------------------------------------------------------------------------- routes


def route_json(route: Route) -> dict[str, Any]:
    """A route as the PUT body takes it (what GET gives round-trips): optional fields only
    when set."""
    body: dict[str, Any] = {"name": route.name, "type": route.type, "to": list(route.to)}
    if route.to_pointer is not None:
        body["to_pointer"] = route.to_pointer
    if route.when:
        body["when"] = {c.pointer: list(c.values) for c in route.when}
    return body


def route_table(app: web.Application) -> list[dict[str, Any]]:
    return [route_json(r) for r in app[RUNTIME].config.routes]


async def put_routes(app: web.Application, who: AdminToken, body: Mapping[str, Any]) -> int:
    """A new route table (``{"routes": [...], "note": ...}``), validated against the
    departments, in force for the next message. Returns its version number."""
    runtime = app[RUNTIME]
    try:
        parsed = parse_routes(dict(body), "request body", runtime.config.departments)
    except ConfigError as exc:
        raise DocumentError(exc.detail, slug="invalid-routes") from None
    state = app[ADMIN_STATE]
    version = len(state.route_versions) + 1
    state.route_versions.append(
        {
            "version": version,
            "routes": [route_json(r) for r in parsed],
            "by": f"admin:{who.name}",
            "at": utc_iso(runtime.clock.now()),
            "note": str(body.get("note", ""))[:200],
        }
    )
    state.active_routes = version
    await swap_context(app)
    await audit(app, who, "routes.replaced", f"routes:v{version}", {"routes": len(parsed)})
    return version


def route_versions(app: web.Application) -> dict[str, Any]:
    """Every table put in force (version 0 is config/routes.toml) and which is active."""
    state = app[ADMIN_STATE]
    versions = [{"version": 0, "by": "config/routes.toml", "at": None, "note": "as configured"}]
    versions += [{k: v[k] for k in ("version", "by", "at", "note")} for v in state.route_versions]
    return {"active": state.active_routes or 0, "versions": versions}


def version_routes(app: web.Application, version: int) -> list[dict[str, Any]]:
    """The routes of one version, as PUT takes them (for a diff, or to edit an old one)."""
    state = app[ADMIN_STATE]
    if version > len(state.route_versions):
        raise NotFoundError(f"no route version {version}", slug="route-version-not-found")
    if version == 0:
        return [route_json(r) for r in state.base_routes or ()]
    routes: list[dict[str, Any]] = state.route_versions[version - 1]["routes"]
    return routes


async def rollback_routes(app: web.Application, who: AdminToken, version: int) -> None:
    state = app[ADMIN_STATE]
    if version > len(state.route_versions):
        raise NotFoundError(f"no route version {version}", slug="route-version-not-found")
    state.active_routes = version or None
    await swap_context(app)
    await audit(app, who, "routes.rolled_back", f"routes:v{version}")


def dry_run(app: web.Application, body: bytes) -> dict[str, Any]:
    """Which recipients an event (or a signed message) would reach, and for every route of
    the table whether it applied and why: each check with the value found."""
    context = app[RUNTIME].context
    event = _event_of(strict_loads(body))
    explained = context.router.decide(event).explain()
    explained["explanations"] = [e.as_json() for e in context.router.explain(event)]
    return explained


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


# ---------------------------------------------------------------------------- dead letters


async def dead_letters(app: web.Application, recipient: str | None) -> list[dict[str, Any]]:
    records = await app[RUNTIME].store.list_dead(recipient, 500)
    return [
        {
            "sequence": d.seq,
            "recipient": d.recipient,
            "attempts": d.attempts,
            "last_error": d.last_error,
            "accepted_at": utc_iso(d.accepted_at) if d.accepted_at else None,
        }
        for d in records
    ]


async def replay(app: web.Application, who: AdminToken, seq: int, recipient: str) -> None:
    """Back to pending, due now; the dispatcher (push) or the recipient's streams (pull) are
    woken at once."""
    runtime = app[RUNTIME]
    now = runtime.clock.now()
    event = AuditEvent(
        "delivery.replayed", f"admin:{who.name}", now, f"seq:{seq}", {"recipient": recipient}
    )
    if not await runtime.store.replay(seq, recipient, now, event):
        raise NotFoundError(
            "no dead letter for this sequence and recipient", slug="dead-letter-not-found"
        )
    runtime.notifier.notified(Wakeup(True, (recipient,)))


async def discard(app: web.Application, who: AdminToken, seq: int, recipient: str) -> None:
    runtime = app[RUNTIME]
    event = AuditEvent(
        "delivery.discarded",
        f"admin:{who.name}",
        runtime.clock.now(),
        f"seq:{seq}",
        {"recipient": recipient},
    )
    if not await runtime.store.discard(seq, recipient, event):
        raise NotFoundError(
            "no dead letter for this sequence and recipient", slug="dead-letter-not-found"
        )


# ----------------------------------------------------------------------------------- audit


async def audit_search(
    app: web.Application, after: int, limit: int, action: str | None, text: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Up to ``limit`` entries after ``after`` with this ``action`` if given and ``text``
    (case-blind) in their actor or target if given, and the last entry read (where the next
    search goes on). One call reads at most ``AUDIT_SCAN`` entries."""
    store = app[RUNTIME].store
    needle = (text or "").casefold()
    found: list[dict[str, Any]] = []
    cursor = after
    while len(found) < limit and cursor - after < AUDIT_SCAN:
        records = await store.audit_entries(cursor, AUDIT_PAGE)
        for r in records:
            cursor = r.seq
            if _wanted(r.event, action, needle):
                found.append(_entry(r))
                if len(found) == limit:
                    break
        if len(records) < AUDIT_PAGE:
            break
    return found, cursor


def _wanted(event: AuditEvent, action: str | None, needle: str) -> bool:
    if action is not None and event.action != action:
        return False
    return not needle or needle in event.actor.casefold() or needle in event.target.casefold()


def _entry(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "action": record.event.action,
        "actor": record.event.actor,
        "at": utc_iso(record.event.at),
        "target": record.event.target,
        "detail": record.event.detail,
        "hash": record.hash,
    }


async def audit_verify(app: web.Application) -> dict[str, Any]:
    """The whole chain recomputed from the stored bytes, and the signed checkpoints in the
    data directory checked against it (as ``gateway audit verify`` does offline)."""
    runtime = app[RUNTIME]
    rows: list[Row] = []
    while True:
        page = await runtime.store.audit_rows(rows[-1][0] if rows else 0, AUDIT_PAGE)
        rows += page
        if len(page) < AUDIT_PAGE:
            break
    verdict = verify_rows(rows)
    result: dict[str, Any] = {
        "intact": verdict.intact,
        "entries": verdict.entries,
        "head": verdict.head,
        "broken_seq": verdict.broken_seq,
        "reason": verdict.reason,
        "detail": verdict.detail,
        "checkpoints": 0,
    }
    if not verdict.intact:
        return result
    try:
        signed = checkpoints.load(runtime.options.data_dir)
    except ValueError as exc:
        return {**result, "intact": False, "reason": "checkpoints unreadable", "detail": str(exc)}
    gateway = runtime.context.keys.get(runtime.context.gateway_key.kid)
    hashes = {seq: digest for seq, _, _, digest in rows}
    broken = (
        checkpoints.first_mismatch(signed, hashes, verdict.entries, gateway)
        if signed and gateway is not None
        else None
    )
    if broken is not None:
        return {**result, "intact": False, "reason": "checkpoint", "detail": broken}
    return {**result, "checkpoints": len(signed)}
