"""In-process wake-ups: the dispatcher and SSE streams wait on these, not on a poll timer.

Across instances the PostgreSQL store adds LISTEN/NOTIFY on top; polling stays the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict


class Notifier:
    def __init__(self) -> None:
        self._dispatch = asyncio.Event()
        self._inboxes: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.closing = False

    def close(self) -> None:
        """Shutdown: wake every stream so it ends instead of holding the server open."""
        self.closing = True
        for events in self._inboxes.values():
            for event in events:
                event.set()

    def message_committed(self, push: bool, pull_recipients: tuple[str, ...]) -> None:
        if push:
            self._dispatch.set()
        for recipient in pull_recipients:
            for event in self._inboxes.get(recipient, ()):
                event.set()

    def wake_dispatcher(self) -> None:
        self._dispatch.set()

    async def wait_dispatch(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._dispatch.wait(), seconds)
        self._dispatch.clear()

    def subscribe(self, recipient: str) -> asyncio.Event:
        event = asyncio.Event()
        self._inboxes[recipient].add(event)
        return event

    def unsubscribe(self, recipient: str, event: asyncio.Event) -> None:
        self._inboxes[recipient].discard(event)
        if not self._inboxes[recipient]:
            del self._inboxes[recipient]
