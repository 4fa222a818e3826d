"""What administrators can do, once, for every way in: the admin API's handlers and the web
console both call these functions (each way in only parses its own input and shapes its own
output), with the role sets of ``gateway.administration.tokens``.

A change is checked whole before anything is kept, then handed to the administration service
(``gateway.administration.service``: a new overlay, saved, swapped in for the next request,
audited under the administrator's token name). Errors are ``GatewayError``s with a problem
type from the catalogue, the same for both ways in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.acceptance import AcceptanceContext
from gateway.administration import AdminState, AdminToken
from gateway.api.appkeys import ADMINISTRATION, CLOCK, CURRENT, DISPATCHER, OPTIONS, STORE
from gateway.audit import checkpoints
from gateway.audit.chain import AuditEvent
from gateway.audit.verify import Row, verify_rows
from gateway.clock import utc_iso
from gateway.configuration.loader import (
    KEY_NAME,
    Place,
    parse_departments,
    parse_duration,
    parse_routes,
)
from gateway.configuration.model import DeliverySettings, Department
from gateway.configuration.tables import department_table
from gateway.configuration.tables import route_table as routes_toml
from gateway.delivery import Dispatcher
from gateway.messages import SignedMessage, strict_loads
from gateway.problem_types import (
    DEPARTMENT_EXISTS,
    DEPARTMENT_NOT_FOUND,
    INVALID_BODY,
    INVALID_DEPARTMENT,
    INVALID_DRY_RUN,
    INVALID_ROUTES,
    KEY_EXISTS,
    KEY_NOT_FOUND,
    ROUTE_VERSION_NOT_FOUND,
)
from gateway.problems import (
    ConfigError,
    ConflictError,
    DocumentError,
    MessageError,
    NotFoundError,
)
from gateway.storage.base import AuditRecord, GoneEndpoint
from gateway.trust import KeyRecord

AUDIT_PAGE = 1000
MAX_NOTE = 200  # characters of a route version's note
#: members of a department table that have calls of their own
NOT_IN_TABLE = ("keys", "enabled")
AUDIT_SCAN = 50_000  # entries one search reads at most


def _context(app: web.Application) -> AcceptanceContext:
    return app[CURRENT].context


def _dispatcher(app: web.Application) -> Dispatcher | None:
    return app.get(DISPATCHER)


# ---------------------------------------------------------------------------- departments


async def departments(app: web.Application) -> list[dict[str, Any]]:
    """Every department with its state: enabled, delivery (mode, endpoint, whether a 410 left
    the endpoint gone, breaker on this instance), document types and keys (usable or revoked,
    expiring)."""
    context, now = _context(app), app[CLOCK].now()
    gone = await app[STORE].gone_endpoints()
    dispatcher = _dispatcher(app)
    breakers = dispatcher.breakers.states(now) if dispatcher else {}
    return [
        {
            "id": d.id,
            "name": d.name,
            "name_zh": d.name_zh,
            "enabled": d.enabled,
            "delivery": d.delivery.mode,
            "endpoint": d.delivery.endpoint,
            "endpoint_gone": _gone_view(gone.get(d.id)),
            "breaker": str(breakers.get(d.id, "closed")),
            "sends": sorted(d.sends),
            "receives": sorted(d.receives),
            "keys": [_key_state(k, now) for k in context.keys.for_department(d.id)],
        }
        for d in context.config.departments.values()
    ]


def _gone_view(gone: GoneEndpoint | None) -> dict[str, str] | None:
    return None if gone is None else {"at": utc_iso(gone.at), "reason": gone.reason}


def _key_state(key: KeyRecord, now: datetime) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "revoked_at": utc_iso(key.revoked_at) if key.revoked_at else None,
        "not_after": utc_iso(key.not_after) if key.not_after else None,
        "usable": (key.revoked_at is None or key.revoked_at > now)
        and (key.not_after is None or key.not_after > now),
    }


def department_id(app: web.Application, dept_id: str) -> str:
    if dept_id not in _context(app).config.departments:
        raise NotFoundError("no department with this id", problem=DEPARTMENT_NOT_FOUND)
    return dept_id


async def add_department(app: web.Application, who: AdminToken, body: Mapping[str, Any]) -> str:
    """A new department, given as its departments.toml table (id, name, sends, receives,
    delivery); enabled at once. Keys are added with ``add_key``. Returns its id."""
    for member in NOT_IN_TABLE:
        if member in body:
            raise DocumentError(
                f"{member!r} is not part of a department table here: add keys with POST "
                "/admin/v1/departments/{id}/keys, disable with .../disable",
                problem=INVALID_DEPARTMENT,
            )
    department = _checked_department(app, body)
    if department.id in _context(app).config.departments:
        raise ConflictError("a department with this id exists", problem=DEPARTMENT_EXISTS)
    await app[ADMINISTRATION].change(
        who,
        lambda state: state.with_department(department.id, dict(body)),
        "department.added",
        department.id,
    )
    return department.id


async def set_enabled(app: web.Application, who: AdminToken, dept_id: str, enabled: bool) -> None:
    """A disabled department's messages are refused and it is no one's recipient."""
    department_id(app, dept_id)
    action = f"department.{'enabled' if enabled else 'disabled'}"
    administration = app[ADMINISTRATION]
    await administration.change(
        who, lambda state: state.with_enabled(dept_id, enabled), action, dept_id
    )
    if enabled:  # and an endpoint a 410 disabled is enabled again with it
        await administration.enable_endpoint(who, dept_id)


def _checked_department(app: web.Application, table: Mapping[str, Any]) -> Department:
    """A department table checked whole: its fields, and a schema for every type named."""
    try:
        (department,) = parse_departments({"departments": [dict(table)]}, "request body").values()
    except ConfigError as exc:
        raise DocumentError(exc.detail, problem=INVALID_DEPARTMENT) from None
    unknown = sorted((department.sends | department.receives) - set(_context(app).schemas.types()))
    if unknown:
        raise DocumentError(
            f"document types without a schema: {unknown}", problem=INVALID_DEPARTMENT
        )
    return department


async def replace_department(
    app: web.Application, who: AdminToken, dept_id: str, table: Mapping[str, Any], action: str
) -> Department:
    """The department's settings replaced by ``table`` (its departments.toml table, without
    keys or enabled state, which have calls of their own), in force for the next message and
    the next delivery attempt. Returns the department as now in force."""
    department_id(app, dept_id)
    for member in NOT_IN_TABLE:
        if member in table:
            raise DocumentError(
                f"{member!r} is not part of a department table here: it has calls of its own",
                INVALID_DEPARTMENT,
            )
    if table.get("id") != dept_id:
        raise DocumentError("the table's id must be the department in the path", INVALID_DEPARTMENT)
    department = _checked_department(app, table)
    await app[ADMINISTRATION].change(
        who,
        lambda state: state.with_department(dept_id, dict(table)),
        action,
        dept_id,
        {"delivery": department.delivery.mode},
    )
    return _context(app).config.departments[dept_id]


async def set_delivery(
    app: web.Application, who: AdminToken, dept_id: str, delivery: Mapping[str, Any]
) -> DeliverySettings:
    """Push (with its endpoint, timeout, concurrency) or pull, as the department's
    ``delivery`` table, for the next delivery attempt (the dispatcher reads the department in
    force for each one). A new endpoint clears the "gone" mark a 410 left (in the store, so
    for every instance)."""
    current = _context(app).config.departments[department_id(app, dept_id)]
    table = {**department_table(current), "delivery": dict(delivery)}
    changed = await replace_department(app, who, dept_id, table, "department.delivery_changed")
    await app[ADMINISTRATION].enable_endpoint(who, dept_id)  # a new endpoint is not gone
    return changed.delivery


def _existing_kid(app: web.Application, dept_id: str, name: str) -> str:
    kid = f"{department_id(app, dept_id)}/{name}"
    if _context(app).keys.get(kid) is None:
        raise NotFoundError("the department has no key with this name", problem=KEY_NOT_FOUND)
    return kid


async def revoke_key(app: web.Application, who: AdminToken, dept_id: str, name: str) -> str:
    """Revocation applies to the next request, department tokens included. Returns the time
    of revocation."""
    kid = _existing_kid(app, dept_id, name)
    now = app[CLOCK].now()
    await app[ADMINISTRATION].change(
        who, lambda state: state.with_revoked(kid, now), "key.revoked", kid
    )
    return utc_iso(now)


def _new_key(
    app: web.Application, dept_id: str, spec: Any, not_before: datetime
) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, dict) or not isinstance(spec.get("jwk"), dict):
        raise MessageError('send {"name": ..., "jwk": {...public JWK...}}', problem=INVALID_BODY)
    name = spec.get("name")
    if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
        raise MessageError("name: letters, digits, '.', '_' or '-'", problem=INVALID_BODY)
    kid = f"{dept_id}/{name}"
    if _context(app).keys.get(kid) is not None:
        raise ConflictError(
            "the department has a key with this name; keys are never replaced", problem=KEY_EXISTS
        )
    jwk: dict[str, Any] = {**spec["jwk"], "kid": kid}
    KeyRecord(kid, dept_id, jwk, not_before)  # validates: public only, Ed25519 or P-256
    record = {"department": dept_id, "jwk": jwk, "not_before": not_before.isoformat()}
    return kid, record


async def add_key(app: web.Application, who: AdminToken, dept_id: str, spec: Any) -> str:
    """A new public key (``{"name", "jwk"}``), valid at once; returns its kid."""
    department_id(app, dept_id)
    kid, record = _new_key(app, dept_id, spec, app[CLOCK].now())
    await app[ADMINISTRATION].change(
        who, lambda state: state.with_key(kid, record), "key.added", kid
    )
    return kid


async def rotate_key(
    app: web.Application, who: AdminToken, dept_id: str, name: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """The new key (``body["new"]``) is valid at once; the old one until the overlap window
    (``body["overlap"]``, a duration such as ``1h``) ends."""
    old = _existing_kid(app, dept_id, name)
    try:
        overlap = parse_duration(body.get("overlap", "1h"), Place("request body", "overlap"))
    except ConfigError as exc:  # the client's input, not the configuration: never a 500
        raise MessageError(exc.detail, problem=INVALID_BODY) from None
    now = app[CLOCK].now()
    kid, record = _new_key(app, dept_id, body.get("new"), now)
    await app[ADMINISTRATION].change(
        who,
        lambda state: state.with_key(kid, record).with_expiry(old, now + overlap),
        "key.rotated",
        old,
        {"new": kid, "overlap_s": int(overlap.total_seconds())},
    )
    return {"old": old, "old_not_after": utc_iso(now + overlap), "new": kid}


# ---------------------------------------------------------------------------------- routes


def route_table(app: web.Application) -> list[dict[str, Any]]:
    """The route table in force as its routes.toml tables: what ``put_routes`` takes back."""
    return [routes_toml(r) for r in _context(app).config.routes]


async def put_routes(app: web.Application, who: AdminToken, body: Mapping[str, Any]) -> int:
    """A new route table (``{"routes": [...], "note": ...}``), validated against the
    departments, in force for the next message. Returns its version number."""
    note = body.get("note", "")
    if "routes" not in body or not isinstance(note, str) or len(note) > MAX_NOTE:
        raise DocumentError(
            f'send {{"routes": [...], "note": "..."}} with a note of at most {MAX_NOTE} characters',
            problem=INVALID_ROUTES,
        )
    try:
        parsed = parse_routes(dict(body), "request body", dict(_context(app).config.departments))
    except ConfigError as exc:
        raise DocumentError(exc.detail, problem=INVALID_ROUTES) from None
    table, at = [routes_toml(r) for r in parsed], utc_iso(app[CLOCK].now())
    state = await app[ADMINISTRATION].change(
        who,
        lambda state: state.with_routes(table, f"admin:{who.name}", at, note),
        "routes.replaced",
        lambda state: f"routes:v{state.active_routes}",
        {"routes": len(parsed)},
    )
    return state.active_routes or 0


def route_versions(app: web.Application) -> dict[str, Any]:
    """Every table put in force (version 0 is config/routes.toml) and which is active."""
    state = app[ADMINISTRATION].state
    versions = [{"version": 0, "by": "config/routes.toml", "at": None, "note": "as configured"}]
    versions += [{k: v[k] for k in ("version", "by", "at", "note")} for v in state.route_versions]
    return {"active": state.active_routes or 0, "versions": versions}


def version_routes(app: web.Application, version: int) -> list[dict[str, Any]]:
    """The routes of one version, as PUT takes them (for a diff, or to edit an old one)."""
    administration = app[ADMINISTRATION]
    state = administration.state
    if version > len(state.route_versions):
        raise NotFoundError("no route version with this number", problem=ROUTE_VERSION_NOT_FOUND)
    if version == 0:
        return [routes_toml(r) for r in administration.base.config.routes]
    return list(state.route_versions[version - 1]["routes"])


async def rollback_routes(app: web.Application, who: AdminToken, version: int) -> None:
    def change(state: AdminState) -> AdminState:
        if version > len(state.route_versions):
            raise NotFoundError(
                "no route version with this number", problem=ROUTE_VERSION_NOT_FOUND
            )
        return state.with_active_routes(version)

    await app[ADMINISTRATION].change(who, change, "routes.rolled_back", f"routes:v{version}")


def dry_run(app: web.Application, body: bytes) -> dict[str, Any]:
    """Which recipients an event (or a signed message) would reach, and for every route of
    the table whether it applied and why: each check with the value found."""
    context = _context(app)
    event = _event_of(body, strict_loads(body))
    explained = context.router.decide(event).explain()
    explained["explanations"] = [e.as_json() for e in context.router.explain(event)]
    return explained


def _event_of(body: bytes, document: object) -> dict[str, object]:
    """The event to route: a signed message's (read from the bytes as sent, as acceptance
    reads them), or the CloudEvent given."""
    if isinstance(document, dict) and "payload" in document and "signatures" in document:
        parsed = SignedMessage.parse(body).event
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
        problem=INVALID_DRY_RUN,
    )


# ---------------------------------------------------------------------------- dead letters


async def dead_letters(app: web.Application, recipient: str | None) -> list[dict[str, Any]]:
    records = await app[STORE].list_dead(recipient, 500)
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
    woken at once. 404 if there is no such dead letter."""
    await app[ADMINISTRATION].replay(who, seq, recipient)


async def discard(app: web.Application, who: AdminToken, seq: int, recipient: str) -> None:
    await app[ADMINISTRATION].discard(who, seq, recipient)


# ----------------------------------------------------------------------------------- audit


async def audit_search(
    app: web.Application, after: int, limit: int, action: str | None, text: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Up to ``limit`` entries after ``after`` with this ``action`` if given and ``text``
    (case-blind) in their actor or target if given, and the last entry read (where the next
    search goes on). One call reads at most ``AUDIT_SCAN`` entries."""
    store = app[STORE]
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
    store = app[STORE]
    rows: list[Row] = []
    while True:
        page = await store.audit_rows(rows[-1][0] if rows else 0, AUDIT_PAGE)
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
        signed = checkpoints.load(app[OPTIONS].data_dir)
    except ValueError as exc:
        return {**result, "intact": False, "reason": "checkpoints unreadable", "detail": str(exc)}
    context = _context(app)
    gateway = context.keys.get(context.gateway_key.kid)
    hashes = {seq: digest for seq, _, _, digest in rows}
    broken = (
        checkpoints.first_mismatch(signed, hashes, verdict.entries, gateway)
        if signed and gateway is not None
        else None
    )
    if broken is not None:
        return {**result, "intact": False, "reason": "checkpoint", "detail": broken}
    return {**result, "checkpoints": len(signed)}
