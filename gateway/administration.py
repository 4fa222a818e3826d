"""Administrative changes that outlive a restart: disabled departments and revoked keys.

They are kept as a small overlay in ``<data-dir>/admin-state.json`` on top of ``config/``
(which stays the operators' reviewed source) and applied by building a new acceptance
context and swapping it in whole: a request in flight keeps the snapshot it started with,
the next one sees the change, and nothing is locked on the request path.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from gateway.acceptance import AcceptanceContext
from gateway.routing import Router


@dataclass(slots=True)
class AdminState:
    path: Path
    disabled: set[str] = field(default_factory=set)
    revoked: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> AdminState:
        if not path.exists():
            return cls(path)
        raw = orjson.loads(path.read_bytes())
        return cls(
            path,
            set(raw.get("disabled", [])),
            {kid: datetime.fromisoformat(at) for kid, at in raw.get("revoked", {}).items()},
        )

    def save(self) -> None:
        body = orjson.dumps(
            {
                "disabled": sorted(self.disabled),
                "revoked": {kid: at.isoformat() for kid, at in sorted(self.revoked.items())},
            },
            option=orjson.OPT_INDENT_2,
        )
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)  # atomic: a crash leaves the old or the new state

    def apply(self, context: AcceptanceContext) -> AcceptanceContext:
        """A new context with the overlay applied; the key registry is shared and revoked in
        place, so department tokens (verified against the same registry) see it too."""
        for kid, at in self.revoked.items():
            if context.keys.get(kid) is not None:
                context.keys.revoke(kid, at)
        departments = {
            dept_id: dataclasses.replace(dept, enabled=dept_id not in self.disabled)
            for dept_id, dept in context.config.departments.items()
        }
        config = dataclasses.replace(context.config, departments=departments)
        return dataclasses.replace(
            context, config=config, router=Router(config.routes, config.departments)
        )
