import random
from datetime import UTC, datetime, timedelta

from gateway.configuration.model import RetryPolicy
from gateway.delivery.backoff import ceiling, next_attempt

NOW = datetime(2026, 7, 24, tzinfo=UTC)


def test_ceiling_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(initial=timedelta(seconds=5), multiplier=2, cap=timedelta(minutes=1))
    assert [ceiling(policy, n).total_seconds() for n in range(1, 6)] == [5, 10, 20, 40, 60]


def test_full_jitter_stays_within_the_ceiling() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    for attempts in range(1, 12):
        when = next_attempt(policy, attempts, NOW, NOW, rng)
        assert when is not None
        assert (
            NOW + timedelta(seconds=1)
            <= when
            <= NOW + max(ceiling(policy, attempts), timedelta(seconds=1))
        )


def test_jitter_spreads_retries() -> None:
    policy = RetryPolicy()
    rng = random.Random(1)
    times = {next_attempt(policy, 8, NOW, NOW, rng) for _ in range(50)}
    assert len(times) > 40


def test_too_old_means_dead_letter() -> None:
    policy = RetryPolicy(max_age=timedelta(hours=1))
    accepted = NOW - timedelta(minutes=59, seconds=59)
    assert next_attempt(policy, 3, NOW, accepted, random.Random(0)) is None
