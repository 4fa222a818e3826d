"""The one way in: every message the gateway accepts passes here, once.

A department's message arrives over HTTP (``POST /v1/messages``); the hosted case service's
material requests and notices arrive from inside the process. Both take the same path:

1. ``Acceptor.accept``: the checks, in their order, and the one store transaction
   (``gateway.acceptance``);
2. metrics: received, then accepted, answered as a duplicate, or refused by problem type
   (what each refusal is counted as comes from the problem catalogue);
3. wake-up of delivery: the dispatcher for push recipients, the live streams of pull
   recipients (``Notifier``); other instances hear the store's own notification;
4. the case layer's observation (``CaseService.observe``), which never fails the message.

Only a new message (not a repeat of one already accepted) wakes delivery and is observed:
the first acceptance did both.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

import structlog

from gateway.acceptance import Accepted, Acceptor
from gateway.delivery.notifier import Notifier
from gateway.delivery.wakeup import Wakeup
from gateway.metrics import Metrics
from gateway.problems import GatewayError


class Observer(Protocol):
    """What follows a new message inside the gateway (the case layer)."""

    async def observe(self, accepted: Accepted) -> None:
        """Look at a newly accepted message; never raises (the message stands)."""
        ...


@dataclass(frozen=True, slots=True)
class Intake:
    """Accepts messages; see the module docstring for what that includes.

    ``observer`` is given after the case service is built (it sends through an intake of its
    own, without an observer, since it never observes its own messages): ``observed_by``
    makes the intake the HTTP handler uses. Both share everything else.
    """

    acceptor: Acceptor
    metrics: Metrics
    notifier: Notifier
    observer: Observer | None = None
    #: the hosted case service's own intake: its event times are the case's times of record
    #: (a re-send is the same message), so the clock-skew check does not apply to them
    hosted: bool = False

    def observed_by(self, observer: Observer) -> Intake:
        return replace(self, observer=observer)

    async def accept(self, body: bytes) -> Accepted:
        """Accept a message whose bytes are at hand (the hosted case service)."""

        async def given() -> bytes:
            return body

        return await self.receive(given)

    async def receive(self, read: Callable[[], Awaitable[bytes]]) -> Accepted:
        """Accept the message ``read`` returns. ``read`` may refuse it before its bytes are
        read (a transport check: media type, size) by raising a ``GatewayError``; that is
        counted like any other refusal. Raises the refusal after counting it."""
        started = time.perf_counter()
        self.metrics.messages_received.inc()
        try:
            accepted = await self.acceptor.accept(await read(), hosted=self.hosted)
        except GatewayError as exc:
            self.metrics.count_refusal(exc)
            raise
        if accepted.created:
            await self._new(accepted)
        else:
            self.metrics.messages_duplicate.labels(
                self.metrics.dept_label(accepted.record.source)
            ).inc()
        self.metrics.accept_latency.observe(time.perf_counter() - started)
        return accepted

    async def _new(self, accepted: Accepted) -> None:
        record = accepted.record
        self.metrics.messages_accepted.labels(
            self.metrics.type_label(record.type), self.metrics.dept_label(record.source)
        ).inc()
        self.notifier.wake(Wakeup.for_recipients(accepted.recipients))
        if self.observer is not None:
            # the case layer's log lines name the message they are about (not personal data)
            with structlog.contextvars.bound_contextvars(
                message_id=f"{record.source}/{record.event_id}", case_id=record.subject
            ):
                await self.observer.observe(accepted)
