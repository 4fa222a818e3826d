"""The dispatcher: claims due push deliveries and attempts them.

It is woken the moment a message commits (``Notifier``) and otherwise sleeps until the next
delivery falls due or the poll interval passes, whichever is first. ``run_once`` processes
everything due now and is what tests drive with a manual clock, so retry schedules are tested
without sleeping.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from gateway.audit.chain import AuditEvent
from gateway.clock import Clock
from gateway.configuration.model import Config, Department
from gateway.delivery.backoff import next_attempt
from gateway.delivery.breaker import BreakerBoard, State
from gateway.delivery.notifier import Notifier
from gateway.delivery.push import Pusher, PushResult
from gateway.metrics import Metrics
from gateway.storage.base import ClaimedDelivery, Store

log = structlog.get_logger("gateway.delivery")

#: (source, event id, recipient) -> the push's ``Link`` header of signed attachment links
#: ("" when the message references none): ``gateway.attachments``
Links = Callable[[str, str, str], Awaitable[str]]


class Dispatcher:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: Callable[[], Config],
        pusher: Pusher,
        metrics: Metrics,
        notifier: Notifier,
        *,
        owner: str,
        batch: int = 128,
        poll_interval: float = 1.0,
        lease_seconds: float = 120.0,
        rng: random.Random | None = None,
        links: Links | None = None,
    ) -> None:
        self._store = store
        self._links = links
        self._clock = clock
        self._config = config
        self._pusher = pusher
        self._metrics = metrics
        self._notifier = notifier
        self._owner = owner
        self._batch = batch
        self._poll = poll_interval
        self._lease = lease_seconds
        self._rng = rng or random.Random()
        self.breakers = BreakerBoard(config().breaker)
        self.gone: set[str] = set()  # recipients whose endpoint answered 410
        self._limits: dict[str, asyncio.Semaphore] = {}

    async def run_once(self) -> int:
        """Attempt every delivery due now; returns how many were claimed."""
        total = 0
        while True:
            claimed = await self._store.claim_due(
                self._clock.now(), self._batch, self._owner, self._lease
            )
            if claimed:
                await asyncio.gather(*(self._attempt(item) for item in claimed))
            total += len(claimed)
            if len(claimed) < self._batch:
                return total

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
                timeout = await self._sleep_for()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher.iteration_failed")
                timeout = self._poll
            await self._notifier.wait_dispatch(timeout)

    async def _sleep_for(self) -> float:
        due = await self._store.next_due()
        if due is None:
            return self._poll
        return min(self._poll, max((due - self._clock.now()).total_seconds(), 0.0))

    def _limit(self, department: Department) -> asyncio.Semaphore:
        limit = self._limits.get(department.id)
        if limit is None:
            limit = self._limits[department.id] = asyncio.Semaphore(department.delivery.concurrency)
        return limit

    async def _attempt(self, item: ClaimedDelivery) -> None:
        delivery, message = item.delivery, item.message
        recipient = delivery.recipient
        department = self._config().departments.get(recipient)
        now = self._clock.now()
        if recipient in self.gone:
            await self._dead(item, delivery.attempts, "endpoint disabled after HTTP 410")
            return
        if department is None or not department.enabled or department.delivery.endpoint is None:
            await self._failed(item, now, "recipient has no enabled push endpoint")
            return
        # The breaker is asked only once a concurrency slot is free, so deliveries queued
        # behind a failing endpoint see the breaker the earlier failures opened.
        async with self._limit(department):
            now = self._clock.now()
            breaker = self.breakers.get(recipient)
            if not breaker.allow(now):
                reopens = max(breaker.reopens_at() or now, now + timedelta(seconds=1))
                await self._store.mark_retry(
                    message.seq, recipient, delivery.attempts, reopens, "breaker open"
                )
                return
            links = (
                await self._links(message.source, message.event_id, recipient)
                if self._links is not None
                else ""
            )
            result = await self._pusher.push(
                department.delivery.endpoint,
                message.body,
                f"{message.source}:{message.event_id}",
                now,
                department.delivery.timeout_seconds,
                {"link": links} if links else None,
            )
        await self._record(item, result)

    async def _record(self, item: ClaimedDelivery, result: PushResult) -> None:
        recipient = item.delivery.recipient
        now = self._clock.now()
        breaker = self.breakers.get(recipient)
        outcome = "delivered" if result.delivered else ("gone" if result.gone else "failed")
        self._metrics.delivery_attempts.labels(self._metrics.dept_label(recipient), outcome).inc()
        if result.delivered:
            breaker.success()
            await self._delivered(item, now, result.receipt)
        elif result.gone:
            self.gone.add(recipient)
            await self._dead(item, item.delivery.attempts + 1, "endpoint answered HTTP 410 Gone")
        else:
            breaker.failure(now)
            await self._failed(item, now, result.error or "failed")
        self._metrics.breaker_open.labels(self._metrics.dept_label(recipient)).set(
            0 if breaker.state(now) is State.CLOSED else 1
        )

    async def _delivered(self, item: ClaimedDelivery, now: datetime, receipt: bytes | None) -> None:
        message, recipient = item.message, item.delivery.recipient
        await self._store.mark_delivered(
            message.seq,
            recipient,
            now,
            receipt,
            AuditEvent(
                "delivery.delivered",
                "gateway",
                now,
                f"{message.source}/{message.event_id}",
                {"recipient": recipient, "attempts": item.delivery.attempts + 1},
            ),
        )
        label = self._metrics.dept_label(recipient)
        self._metrics.deliveries.labels(label, "push").inc()
        self._metrics.delivery_latency.labels("push").observe(
            max((now - message.accepted_at).total_seconds(), 0.0)
        )

    async def _failed(self, item: ClaimedDelivery, now: datetime, error: str) -> None:
        attempts = item.delivery.attempts + 1
        policy = self._config().retry
        when = next_attempt(policy, attempts, now, item.message.accepted_at, self._rng)
        if when is None:
            await self._dead(item, attempts, f"gave up after {attempts} attempts: {error}")
        else:
            await self._store.mark_retry(
                item.message.seq, item.delivery.recipient, attempts, when, error
            )

    async def _dead(self, item: ClaimedDelivery, attempts: int, error: str) -> None:
        message, recipient = item.message, item.delivery.recipient
        now = self._clock.now()
        await self._store.mark_dead(
            message.seq,
            recipient,
            attempts,
            error,
            AuditEvent(
                "delivery.dead_lettered",
                "gateway",
                now,
                f"{message.source}/{message.event_id}",
                {"recipient": recipient, "attempts": attempts, "error": error},
            ),
        )
        self._metrics.dead_letters.labels(self._metrics.dept_label(recipient)).inc()
        log.warning("delivery.dead_lettered", recipient=recipient, seq=message.seq, error=error)
