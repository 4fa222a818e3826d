"""Administrative changes that outlive a restart: disabled departments, keys added, rotated
and revoked, departments added, and route versions.

They are kept as an overlay on top of ``config/`` (which stays the operators' reviewed
source): ``<data-dir>/admin-state.json``, or one versioned row of a store shared by several
instances. ``AdminState`` is a value: every change returns a new state, and ``apply`` makes
a new acceptance context from the configuration as loaded, touching neither. The running
gateway swaps the new context in whole (``gateway.administration.service``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from gateway.acceptance import AcceptanceContext
from gateway.configuration.loader import parse_departments, parse_routes
from gateway.configuration.model import Department, Route
from gateway.routing import Router
from gateway.trust import KeyRecord, KeyRegistry

#: how the overlay names itself in configuration errors
SOURCE = "admin-state.json"


@dataclass(frozen=True, slots=True)
class AdminState:
    """The overlay. ``version`` counts the changes that made it when it lives in a shared
    store (several instances); it is 0 for a file of one instance."""

    disabled: frozenset[str] = frozenset()
    revoked: Mapping[str, datetime] = field(default_factory=dict)
    expiries: Mapping[str, datetime] = field(default_factory=dict)
    # kid -> {"department", "jwk", "not_before", "not_after"} (ISO times)
    keys: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # every route table ever put in force: {"version", "routes", "by", "at", "note"}
    route_versions: tuple[Mapping[str, Any], ...] = ()
    active_routes: int | None = None  # None: config/routes.toml
    # departments added or replaced through the API, as the TOML-shaped tables given
    departments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    version: int = 0
    # admin tokens made through the API: name -> {"role", "sha256", "at", "by"} (hashes only)
    tokens: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # token names revoked through the API (the data directory's file tokens too)
    revoked_tokens: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ reading, writing

    @classmethod
    def from_bytes(cls, body: bytes, version: int = 0) -> AdminState:
        raw = orjson.loads(body)
        return cls(
            frozenset(raw.get("disabled", [])),
            {kid: datetime.fromisoformat(at) for kid, at in raw.get("revoked", {}).items()},
            {kid: datetime.fromisoformat(at) for kid, at in raw.get("expiries", {}).items()},
            dict(raw.get("keys", {})),
            tuple(raw.get("route_versions", [])),
            raw.get("active_routes"),
            dict(raw.get("departments", {})),
            version,
            dict(raw.get("tokens", {})),
            frozenset(raw.get("revoked_tokens", [])),
        )

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "disabled": sorted(self.disabled),
                "revoked": {kid: at.isoformat() for kid, at in sorted(self.revoked.items())},
                "expiries": {kid: at.isoformat() for kid, at in sorted(self.expiries.items())},
                "keys": self.keys,
                "route_versions": list(self.route_versions),
                "active_routes": self.active_routes,
                "departments": self.departments,
                "tokens": self.tokens,
                "revoked_tokens": sorted(self.revoked_tokens),
            },
            option=orjson.OPT_INDENT_2,
        )

    def is_empty(self) -> bool:
        return self == AdminState(version=self.version)

    # ------------------------------------------------------------------ changes

    def with_version(self, version: int) -> AdminState:
        return dataclasses.replace(self, version=version)

    def with_enabled(self, department: str, enabled: bool) -> AdminState:
        """A disabled department's messages are refused and it is no one's recipient."""
        changed = self.disabled - {department} if enabled else self.disabled | {department}
        return dataclasses.replace(self, disabled=changed)

    def with_revoked(self, kid: str, at: datetime) -> AdminState:
        """Revoked from ``at``; a key revoked before stays revoked from the earlier time."""
        earlier = self.revoked.get(kid)
        when = at if earlier is None else min(earlier, at)
        return dataclasses.replace(self, revoked={**self.revoked, kid: when})

    def with_key(self, kid: str, record: Mapping[str, Any]) -> AdminState:
        return dataclasses.replace(self, keys={**self.keys, kid: record})

    def with_expiry(self, kid: str, at: datetime) -> AdminState:
        """``kid`` valid until ``at`` (the end of a rotation's overlap); earlier wins."""
        earlier = self.expiries.get(kid)
        when = at if earlier is None else min(earlier, at)
        return dataclasses.replace(self, expiries={**self.expiries, kid: when})

    def with_routes(self, routes: list[Any], by: str, at: str, note: str) -> AdminState:
        """A new route version (the next number), put in force. ``routes`` as given (the
        routes.toml tables in JSON), ``by`` the administrator, ``at`` an ISO time."""
        entry = {"version": len(self.route_versions) + 1, "routes": routes}
        versions = (*self.route_versions, {**entry, "by": by, "at": at, "note": note})
        return dataclasses.replace(self, route_versions=versions, active_routes=len(versions))

    def with_active_routes(self, version: int) -> AdminState:
        """Version 0 is the configuration's own route table."""
        return dataclasses.replace(self, active_routes=version or None)

    def with_department(self, department: str, table: Mapping[str, Any]) -> AdminState:
        """``department`` as ``table`` (added, or replacing the configured one)."""
        return dataclasses.replace(self, departments={**self.departments, department: table})

    def with_token(self, name: str, record: Mapping[str, str]) -> AdminState:
        """An admin token made through the API (its hash and role, never the token)."""
        return dataclasses.replace(self, tokens={**self.tokens, name: record})

    def with_token_revoked(self, name: str) -> AdminState:
        return dataclasses.replace(self, revoked_tokens=self.revoked_tokens | {name})

    # ------------------------------------------------------------------ applying

    def apply(self, base: AcceptanceContext) -> AcceptanceContext:
        """A new context: ``base`` (the configuration as loaded) with the overlay applied.
        Neither ``base`` nor its key registry is changed."""
        departments = self._departments(base)
        routes = self._routes(base.config.routes, departments)
        config = dataclasses.replace(base.config, departments=departments, routes=routes)
        return dataclasses.replace(
            base, config=config, router=Router(routes, departments), keys=self._keys(base.keys)
        )

    def _keys(self, base: KeyRegistry) -> KeyRegistry:
        keys = KeyRegistry(base.records())
        for kid in self.keys:
            if keys.get(kid) is None:
                keys.add(self._added_key(kid))
        for kid, at in self.expiries.items():
            if keys.get(kid) is not None:
                keys.expire(kid, at)
        for kid, at in self.revoked.items():
            if keys.get(kid) is not None:
                keys.revoke(kid, at)
        return keys

    def _added_key(self, kid: str) -> KeyRecord:
        spec = self.keys[kid]
        return KeyRecord(
            kid,
            spec["department"],
            spec["jwk"],
            datetime.fromisoformat(spec["not_before"]),
            datetime.fromisoformat(spec["not_after"]) if spec.get("not_after") else None,
        )

    def _departments(self, base: AcceptanceContext) -> dict[str, Department]:
        added = parse_departments(
            {"departments": list(self.departments.values())}, f"{SOURCE}: departments"
        )
        return {
            dept_id: dataclasses.replace(dept, enabled=dept_id not in self.disabled)
            for dept_id, dept in {**base.config.departments, **added}.items()
        }

    def _routes(
        self, configured: tuple[Route, ...], departments: dict[str, Department]
    ) -> tuple[Route, ...]:
        if self.active_routes is None:
            return configured
        version = self.route_versions[self.active_routes - 1]
        return parse_routes(
            {"routes": version["routes"]},
            f"{SOURCE}: route version {self.active_routes}",
            departments,
        )
