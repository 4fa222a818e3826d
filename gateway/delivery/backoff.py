"""When to try again: exponential back-off with full jitter, bounded by the policy's max age.

Full jitter (a uniform draw between zero and the exponential ceiling) spreads the retries of
many messages to one recovering endpoint instead of synchronising them into waves.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from gateway.configuration.model import RetryPolicy


def ceiling(policy: RetryPolicy, attempts: int) -> timedelta:
    """The longest wait after ``attempts`` failed attempts (1 = the first failure)."""
    exponent = max(attempts - 1, 0)
    seconds = policy.initial.total_seconds() * policy.multiplier**exponent
    return min(timedelta(seconds=seconds), policy.cap)


def next_attempt(
    policy: RetryPolicy,
    attempts: int,
    now: datetime,
    accepted_at: datetime,
    rng: random.Random | None = None,
) -> datetime | None:
    """The time of the next attempt, or ``None`` when the message is too old: dead-letter it."""
    draw = (rng or random).random()
    # At least one second, so a zero draw never turns into a hot loop against the endpoint.
    delay = max(ceiling(policy, attempts) * draw, timedelta(seconds=1))
    when = now + delay
    if when - accepted_at > policy.max_age:
        return None
    return when
