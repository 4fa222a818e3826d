"""In-process wake-ups: the dispatcher and SSE streams wait on these, not on a poll timer.

Across instances the PostgreSQL store adds LISTEN/NOTIFY on top (its listener calls
``wake``); polling and the streams' heartbeat stay the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterable

from gateway.delivery.wakeup import Wakeup


class Notifier:
    def __init__(self) -> None:
        self._dispatch = asyncio.Event()
        self._inboxes: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.closing = False

    def close(self) -> None:
        """Shutdown: wake every stream so it ends instead of holding the server open."""
        self.closing = True
        self._wake_streams(self._inboxes)

    def wake(self, wakeup: Wakeup) -> None:
        """After a commit, in this process or on another instance (PostgreSQL NOTIFY, or
        LISTEN re-established): wake the dispatcher for push, the named recipients' streams
        for pull, every stream if none are named (too many, or notifications were lost)."""
        if wakeup.push:
            self._dispatch.set()
        self._wake_streams(self._inboxes if wakeup.pull is None else wakeup.pull)

    def _wake_streams(self, recipients: Iterable[str]) -> None:
        for recipient in list(recipients):
            for event in self._inboxes.get(recipient, ()):
                event.set()

    def wake_dispatcher(self) -> None:
        self._dispatch.set()

    async def wait_dispatch(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._dispatch.wait(), seconds)
        self._dispatch.clear()

    def streams(self, recipient: str) -> int:
        """How many of ``recipient``'s streams wait on this process (the bound on streams
        per department is checked against it)."""
        return len(self._inboxes.get(recipient, ()))

    def subscribe(self, recipient: str) -> asyncio.Event:
        event = asyncio.Event()
        self._inboxes[recipient].add(event)
        return event

    def unsubscribe(self, recipient: str, event: asyncio.Event) -> None:
        self._inboxes[recipient].discard(event)
        if not self._inboxes[recipient]:
            del self._inboxes[recipient]
