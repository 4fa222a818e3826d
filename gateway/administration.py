"""Administrative changes that outlive a restart: disabled departments, keys added, rotated
and revoked, delivery settings, and route versions.

They are kept as an overlay in ``<data-dir>/admin-state.json`` on top of ``config/`` (which
stays the operators' reviewed source) and applied by building a new acceptance context and
swapping it in whole: a request in flight keeps the snapshot it started with, the next one
sees the change, and nothing is locked on the request path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from gateway.acceptance import AcceptanceContext
from gateway.configuration.loader import parse_delivery, parse_departments, parse_routes
from gateway.configuration.model import DeliverySettings, Route
from gateway.files import replace_private
from gateway.routing import Router
from gateway.trust import KeyRecord


class SharedAdminStore(Protocol):
    """A store that keeps the overlay for several instances (PostgreSQL)."""

    async def admin_state(self) -> tuple[int, bytes] | None: ...
    async def admin_state_version(self) -> int: ...
    async def save_admin_state(self, body: bytes, version: int) -> bool: ...


def shared_store(store: object) -> SharedAdminStore | None:
    """``store`` if it shares the overlay between instances, else None (the file is it)."""
    needed = ("admin_state", "admin_state_version", "save_admin_state")
    return store if all(hasattr(store, m) for m in needed) else None  # type: ignore[return-value]


@dataclass(slots=True)
class AdminState:
    path: Path
    disabled: set[str] = field(default_factory=set)
    revoked: dict[str, datetime] = field(default_factory=dict)
    expiries: dict[str, datetime] = field(default_factory=dict)
    # kid -> {"department", "jwk", "not_before", "not_after"} (ISO times)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    # every route table ever put in force: {"version", "routes", "by", "at", "note"}
    route_versions: list[dict[str, Any]] = field(default_factory=list)
    active_routes: int | None = None  # None: config/routes.toml
    # departments added through the API, as the TOML-shaped tables they were given in
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # department id -> its delivery table (departments.toml shape) set through the API
    delivery: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the routes of config/ as first loaded: what a rollback to version 0 returns to
    base_routes: tuple[Route, ...] | None = None

    # how many changes made this state, when it lives in a shared store (several instances)
    version: int = 0

    @classmethod
    def load(cls, path: Path) -> AdminState:
        if not path.exists():
            return cls(path)
        return cls.from_bytes(path, path.read_bytes())

    @classmethod
    def from_bytes(cls, path: Path, body: bytes, version: int = 0) -> AdminState:
        raw = orjson.loads(body)
        return cls(
            path,
            set(raw.get("disabled", [])),
            {kid: datetime.fromisoformat(at) for kid, at in raw.get("revoked", {}).items()},
            {kid: datetime.fromisoformat(at) for kid, at in raw.get("expiries", {}).items()},
            dict(raw.get("keys", {})),
            list(raw.get("route_versions", [])),
            raw.get("active_routes"),
            dict(raw.get("departments", {})),
            dict(raw.get("delivery", {})),
            version=version,
        )

    def take(self, body: bytes, version: int) -> None:
        """Become the state another instance saved. In place (the app holds this object);
        the file and the base routes (config/ as this instance started) stay this one's."""
        other = AdminState.from_bytes(self.path, body, version)
        for name in ("disabled", "revoked", "expiries", "keys", "route_versions"):
            setattr(self, name, getattr(other, name))
        self.active_routes = other.active_routes
        self.departments = other.departments
        self.delivery = other.delivery
        self.version = version

    def is_empty(self) -> bool:
        return not (
            self.disabled
            or self.revoked
            or self.expiries
            or self.keys
            or self.route_versions
            or self.departments
            or self.delivery
            or self.active_routes
        )

    def save(self) -> None:
        # atomic, through a temporary file of its own (two instances saving at once on a
        # shared volume must not write into one temporary file): a crash leaves old or new
        replace_private(self.path, self.to_bytes())

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "disabled": sorted(self.disabled),
                "revoked": {kid: at.isoformat() for kid, at in sorted(self.revoked.items())},
                "expiries": {kid: at.isoformat() for kid, at in sorted(self.expiries.items())},
                "keys": self.keys,
                "route_versions": self.route_versions,
                "active_routes": self.active_routes,
                "departments": self.departments,
                "delivery": self.delivery,
            },
            option=orjson.OPT_INDENT_2,
        )

    def added_key(self, kid: str) -> KeyRecord:
        spec = self.keys[kid]
        return KeyRecord(
            kid,
            spec["department"],
            spec["jwk"],
            datetime.fromisoformat(spec["not_before"]),
            datetime.fromisoformat(spec["not_after"]) if spec.get("not_after") else None,
        )

    def apply(self, context: AcceptanceContext) -> AcceptanceContext:
        """A new context with the overlay applied. The key registry is shared and changed in
        place, so department tokens (verified against the same registry) see it too."""
        for kid in self.keys:
            if context.keys.get(kid) is None:
                context.keys.add(self.added_key(kid))
        for kid, at in self.expiries.items():
            if context.keys.get(kid) is not None:
                context.keys.expire(kid, at)
        for kid, at in self.revoked.items():
            if context.keys.get(kid) is not None:
                context.keys.revoke(kid, at)
        added = parse_departments(
            {"departments": list(self.departments.values())}, f"{self.path.name}: departments"
        )
        departments = {
            dept_id: dataclasses.replace(
                dept,
                enabled=dept_id not in self.disabled,
                delivery=self._delivery(dept_id, dept.delivery),
            )
            for dept_id, dept in {**context.config.departments, **added}.items()
        }
        if self.base_routes is None:
            self.base_routes = context.config.routes
        routes = self.base_routes
        if self.active_routes is not None:
            version = self.route_versions[self.active_routes - 1]
            routes = parse_routes(
                {"routes": version["routes"]},
                f"{self.path.name}: route version {self.active_routes}",
                departments,
            )
        config = dataclasses.replace(context.config, departments=departments, routes=routes)
        return dataclasses.replace(context, config=config, router=Router(routes, departments))

    def _delivery(self, dept_id: str, configured: DeliverySettings) -> DeliverySettings:
        table = self.delivery.get(dept_id)
        if table is None:
            return configured
        return parse_delivery(table, f"{self.path.name}: delivery of {dept_id}")
