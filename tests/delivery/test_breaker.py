from datetime import UTC, datetime, timedelta

from gateway.configuration.model import BreakerPolicy
from gateway.delivery.breaker import Breaker, State

NOW = datetime(2026, 7, 24, tzinfo=UTC)


def test_opens_after_consecutive_failures_and_probes_once() -> None:
    breaker = Breaker(BreakerPolicy(failures=3, cooldown=timedelta(seconds=30)))
    for _ in range(3):
        assert breaker.allow(NOW)
        breaker.failure(NOW)
    assert breaker.state(NOW) is State.OPEN
    assert not breaker.allow(NOW + timedelta(seconds=10))
    later = NOW + timedelta(seconds=31)
    assert breaker.state(later) is State.HALF_OPEN
    assert breaker.allow(later)
    assert not breaker.allow(later)  # only one probe in flight
    breaker.success()
    assert breaker.state(later) is State.CLOSED


def test_failed_probe_reopens() -> None:
    breaker = Breaker(BreakerPolicy(failures=1, cooldown=timedelta(seconds=30)))
    breaker.failure(NOW)
    later = NOW + timedelta(seconds=30)
    assert breaker.allow(later)
    breaker.failure(later)
    assert breaker.state(later + timedelta(seconds=1)) is State.OPEN
    assert breaker.reopens_at() == later + timedelta(seconds=30)


def test_success_resets_the_count() -> None:
    breaker = Breaker(BreakerPolicy(failures=2))
    breaker.failure(NOW)
    breaker.success()
    breaker.failure(NOW)
    assert breaker.state(NOW) is State.CLOSED
