"""The administration service: every change an administrator makes goes through here.

A change is a function from the overlay in force to a new one (``AdminState``). It is
applied under one lock per instance: the new acceptance context is built first (a change
that does not apply is refused before anything is saved), then the overlay is saved (to the
shared store over the version it was made from, then to the data directory's file), then the
new context is swapped in, then the change is audited. With several instances on one store,
a change saved meanwhile by another instance makes this one a 409 (``admin-state-changed``):
nothing is merged, nothing is lost. Other instances take a change within their poll interval
(``follow``, run by ``gateway.api.workers``).

Dead letters are handled here too (replay, discard): the other administrative writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from gateway.acceptance import AcceptanceContext, CurrentContext
from gateway.administration.overlay import AdminState
from gateway.administration.tokens import AdminToken
from gateway.audit.chain import AuditEvent
from gateway.clock import Clock
from gateway.delivery.notifier import Notifier
from gateway.delivery.wakeup import Wakeup
from gateway.files import replace_private
from gateway.problem_types import ADMIN_STATE_CHANGED, DEAD_LETTER_NOT_FOUND
from gateway.problems import ConflictError, NotFoundError
from gateway.storage.base import Store

log = structlog.get_logger("gateway.admin")


class SharedAdminStore(Protocol):
    """A store that keeps the overlay for several instances (PostgreSQL)."""

    async def admin_state(self) -> tuple[int, bytes] | None: ...
    async def admin_state_version(self) -> int: ...
    async def save_admin_state(self, body: bytes, version: int) -> bool: ...


def shared_store(store: Store) -> SharedAdminStore | None:
    """``store`` if it shares the overlay between instances, else None (the file is it)."""
    return store if store.capabilities.shared_admin_state else None


def load_state(path: Path) -> AdminState:
    """The overlay saved at ``path``; empty on a first start."""
    return AdminState.from_bytes(path.read_bytes()) if path.exists() else AdminState()


class Administration:
    """Holds the overlay in force and applies changes to it (see the module docstring)."""

    def __init__(
        self,
        *,
        base: AcceptanceContext,
        state: AdminState,
        current: CurrentContext,
        path: Path,
        store: Store,
        clock: Clock,
        notifier: Notifier,
    ) -> None:
        """``state`` is the overlay in force (``load_state``), ``current`` holds
        ``state.apply(base)``; ``path`` is where the overlay is saved."""
        self._base = base
        self._current = current
        self._path = path
        self._store = store
        self._shared = shared_store(store)
        self._clock = clock
        self._notifier = notifier
        self._lock = asyncio.Lock()
        self._state = state

    @property
    def state(self) -> AdminState:
        return self._state

    @property
    def base(self) -> AcceptanceContext:
        """The configuration as loaded (before the overlay)."""
        return self._base

    async def rebase(self, base: AcceptanceContext) -> None:
        """Put a reloaded configuration under the overlay and swap the result in. The overlay
        is applied first: if it no longer fits (a route version naming a department the new
        files removed), ``ConfigError`` and nothing changes."""
        async with self._lock:
            context = self._state.apply(base)
            self._base = base
            self._current.swap(context)

    async def change(
        self,
        who: AdminToken,
        change: Callable[[AdminState], AdminState],
        action: str,
        target: str | Callable[[AdminState], str],
        detail: dict[str, Any] | None = None,
    ) -> AdminState:
        """Apply ``change`` (which may refuse by raising), persist, swap, audit ``action`` on
        ``target`` (or on what ``target`` names in the new state). Returns the new state."""
        async with self._lock:
            state = change(self._state)
            context = state.apply(self._base)
            if self._shared is not None:
                state = state.with_version(self._state.version + 1)
                if not await self._shared.save_admin_state(state.to_bytes(), state.version):
                    await self._adopt()
                    raise ConflictError(
                        "the configuration was changed through another gateway instance at "
                        "the same time; nothing was changed here: read it again and retry",
                        problem=ADMIN_STATE_CHANGED,
                    )
            self._take(state, context)
        await self.audit(who, action, target if isinstance(target, str) else target(state), detail)
        return state

    async def audit(
        self, who: AdminToken, action: str, target: str, detail: dict[str, Any] | None = None
    ) -> None:
        await self._store.append_audit(self._event(who, action, target, detail))

    # ------------------------------------------------------------------ several instances

    async def share_at_start(self) -> None:
        """On a store shared by several instances the overlay lives there: take it, or seed
        it from this data directory's file when this is the first instance with one."""
        if self._shared is None:
            return
        async with self._lock:
            if await self._adopt():
                return
            state = self._state
            if state.version == 0 and not state.is_empty():
                if await self._shared.save_admin_state(state.to_bytes(), 1):
                    self._state = state.with_version(1)
                else:
                    await self._adopt()

    async def follow(self) -> None:
        """Take a change another instance saved, if there is one (one cheap query)."""
        if self._shared is None:
            return
        if await self._shared.admin_state_version() > self._state.version:
            async with self._lock:
                await self._adopt()

    @property
    def shared(self) -> bool:
        return self._shared is not None

    async def _adopt(self) -> bool:
        """Take the overlay another instance saved, if it is newer than this one's."""
        assert self._shared is not None
        found = await self._shared.admin_state()
        if found is None or found[0] <= self._state.version:
            return False
        state = AdminState.from_bytes(found[1], found[0])
        self._take(state, state.apply(self._base))
        return True

    def _take(self, state: AdminState, context: AcceptanceContext) -> None:
        # atomic, through a temporary file of its own (two instances saving at once on a
        # shared volume must not write into one temporary file): a crash leaves old or new
        replace_private(self._path, state.to_bytes())
        self._state = state
        self._current.swap(context)

    # ------------------------------------------------------------------ endpoints

    async def enable_endpoint(self, who: AdminToken, department: str) -> bool:
        """Clear the mark a 410 left on ``department``'s push endpoint (DESIGN section 7: an
        administrator enables it again); audited, and the dispatcher woken for what waited.
        False when there was none."""
        if not await self._store.clear_gone(department):
            return False
        await self.audit(who, "endpoint.enabled", department)
        self._notifier.wake_dispatcher()
        return True

    # ------------------------------------------------------------------ dead letters

    async def replay(self, who: AdminToken, seq: int, recipient: str) -> None:
        """Deliver a dead letter again, now; 404 if there is none."""
        event = self._event(who, "delivery.replayed", f"seq:{seq}", {"recipient": recipient})
        if not await self._store.replay(seq, recipient, event.at, event):
            raise _no_dead_letter()
        # the dispatcher if it is a push delivery, the recipient's live streams if it pulls
        self._notifier.wake(Wakeup(True, (recipient,)))

    async def discard(self, who: AdminToken, seq: int, recipient: str) -> None:
        """Give a dead letter up for good; 404 if there is none."""
        event = self._event(who, "delivery.discarded", f"seq:{seq}", {"recipient": recipient})
        if not await self._store.discard(seq, recipient, event):
            raise _no_dead_letter()

    def _event(
        self, who: AdminToken, action: str, target: str, detail: dict[str, Any] | None
    ) -> AuditEvent:
        now: datetime = self._clock.now()
        return AuditEvent(action, f"admin:{who.name}", now, target, dict(detail or {}))


def _no_dead_letter() -> NotFoundError:
    return NotFoundError(
        "no dead letter for this sequence and recipient", problem=DEAD_LETTER_NOT_FOUND
    )
