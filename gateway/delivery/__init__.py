"""Delivery: push with retries, back-off and breakers; wake-ups for pull recipients."""

from gateway.delivery.backoff import next_attempt
from gateway.delivery.breaker import Breaker, BreakerBoard
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.notifier import Notifier
from gateway.delivery.push import Pusher, PushResult

__all__ = [
    "Breaker",
    "BreakerBoard",
    "Dispatcher",
    "Notifier",
    "PushResult",
    "Pusher",
    "next_attempt",
]
