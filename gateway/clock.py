"""Time as a dependency, so retry schedules and deadlines are tested without sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests move by hand. ``advance`` also wakes anything waiting on ``changed``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 7, 11, 8, 0, tzinfo=UTC)
        self.changed = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self.changed.set()
        self.changed = asyncio.Event()

    def set(self, when: datetime) -> None:
        self._now = when
        self.changed.set()
        self.changed = asyncio.Event()


def utc_iso(when: datetime) -> str:
    """RFC 3339 with a Z and millisecond precision: the form every timestamp on the wire takes."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
