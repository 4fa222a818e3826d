"""Per-endpoint circuit breakers: a dead endpoint is probed, not hammered.

Closed: every attempt goes. After ``failures`` consecutive failures it opens for ``cooldown``;
then it is half-open and lets exactly one probe through. Success closes it; failure opens it
again.
"""

from __future__ import annotations

import enum
from datetime import datetime

from gateway.configuration.model import BreakerPolicy


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Breaker:
    def __init__(self, policy: BreakerPolicy) -> None:
        self._policy = policy
        self._failures = 0
        self._opened_at: datetime | None = None
        self._probing = False

    def state(self, now: datetime) -> State:
        if self._opened_at is None:
            return State.CLOSED
        if now - self._opened_at >= self._policy.cooldown:
            return State.HALF_OPEN
        return State.OPEN

    def allow(self, now: datetime) -> bool:
        """May an attempt go now? In half-open state only one probe is in flight."""
        state = self.state(now)
        if state is State.CLOSED:
            return True
        if state is State.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    @property
    def probing(self) -> bool:
        """Whether the one probe of the half-open state is in flight."""
        return self._probing

    def reopens_at(self) -> datetime | None:
        return None if self._opened_at is None else self._opened_at + self._policy.cooldown

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self, now: datetime) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._policy.failures:
            self._opened_at = now
        self._probing = False


class BreakerBoard:
    """One breaker per recipient, created on first use."""

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._breakers: dict[str, Breaker] = {}

    def get(self, recipient: str) -> Breaker:
        breaker = self._breakers.get(recipient)
        if breaker is None:
            breaker = self._breakers[recipient] = Breaker(self.policy)
        return breaker

    def reopen_times(self, now: datetime) -> list[datetime]:
        """When each open breaker turns half-open (a dispatcher with nothing else due
        sleeps until the first of them)."""
        return [
            when
            for b in self._breakers.values()
            if b.state(now) is State.OPEN and (when := b.reopens_at()) is not None
        ]

    def states(self, now: datetime) -> dict[str, State]:
        return {name: b.state(now) for name, b in self._breakers.items()}
