"""The dispatcher: claims due push deliveries and attempts them.

It is woken the moment a message commits (``Notifier``) or an attempt ends, and otherwise
sleeps until the next delivery falls due or the poll interval passes, whichever is first.
``run_once`` processes everything due now and is what tests drive with a manual clock, so
retry schedules are tested without sleeping.

What a claim takes (issue 12): only what can start now. Per recipient, at most its free
concurrency (its ``concurrency`` less the attempts in flight here), one probe while its
breaker is half-open, nothing while the breaker is open or its endpoint is gone (a 410,
kept in the store until an administrator enables the department): a recipient that is
down costs nothing per pending row, and a claimed delivery never waits behind others for a
slot while its lease runs out. The lease of what is in flight is renewed every third of
the lease, so a slow attempt keeps it; claims are released when the dispatcher stops, and
released at start as well: the owner is the instance's stable identity, so what a killed
process held is taken up again by its restart at once instead of after the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from gateway.audit.chain import AuditEvent
from gateway.clock import Clock, utc_iso
from gateway.configuration.model import Config, Department
from gateway.delivery.backoff import next_attempt
from gateway.delivery.breaker import BreakerBoard, State
from gateway.delivery.notifier import Notifier
from gateway.delivery.push import Pusher, PushResult
from gateway.metrics import Metrics
from gateway.storage.base import ClaimedDelivery, Store

log = structlog.get_logger("gateway.delivery")

GONE_REASON = "endpoint answered HTTP 410 Gone"
#: how long a stopping dispatcher lets attempts in flight finish before cancelling them
STOP_GRACE_SECONDS = 2.0


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
        poll_interval: float = 1.0,
        lease_seconds: float = 120.0,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._pusher = pusher
        self._metrics = metrics
        self._notifier = notifier
        self._owner = owner
        self._poll = poll_interval
        self._lease = lease_seconds
        self._rng = rng or random.Random()
        self.breakers = BreakerBoard(config().breaker)
        self.in_flight: Counter[str] = Counter()  # attempts running here, by recipient
        self._tasks: set[asyncio.Task[None]] = set()
        self._gone: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ rounds

    async def run_once(self) -> int:
        """Attempt every delivery due now, waiting for each; returns how many were claimed."""
        total = 0
        while claimed := await self._claim():
            total += len(claimed)
            await asyncio.gather(*(self._attempt(item) for item in claimed))
        return total

    async def run_forever(self) -> None:
        """Claim and start what can start, then sleep until woken (a commit, an attempt that
        ended) or something falls due. Claims held by an earlier run of this instance are
        released first; on cancellation, attempts in flight get ``STOP_GRACE_SECONDS``, then
        every claim of this owner is released."""
        await self._store.release_claims(self._owner)
        renewer = asyncio.create_task(self._renew_leases())
        try:
            while True:
                timeout = self._poll
                try:
                    for item in await self._claim():
                        self._start(item)
                    timeout = await self._sleep_for()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("dispatcher.iteration_failed")
                await self._notifier.wait_dispatch(timeout)
        finally:
            renewer.cancel()
            await self._stop()

    def _start(self, item: ClaimedDelivery) -> None:
        task = asyncio.create_task(self._attempt(item))
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatcher.attempt_failed", error=type(task.exception()).__name__)
        self._notifier.wake_dispatcher()  # a slot came free

    async def _stop(self) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(Exception):
            released = await self._store.release_claims(self._owner)
            log.info("dispatcher.stopped", released=released)

    async def _renew_leases(self) -> None:
        """While attempts are in flight, keep their leases: every third of the lease."""
        while True:
            await asyncio.sleep(self._lease / 3)
            if self._tasks:
                until = self._clock.now() + timedelta(seconds=self._lease)
                with contextlib.suppress(Exception):
                    await self._store.renew_claims(self._owner, until)

    # ------------------------------------------------------------------ what to claim

    async def _claim(self) -> list[ClaimedDelivery]:
        now = self._clock.now()
        self._gone = frozenset(await self._store.gone_endpoints())
        capacity = self.capacity(now)
        if not capacity:
            return []
        claimed = await self._store.claim_due(now, self._owner, self._lease, capacity)
        for item in claimed:
            self.in_flight[item.delivery.recipient] += 1
        return claimed

    def capacity(self, now: datetime) -> dict[str, int]:
        """Per push recipient, how many deliveries may start now (absent: none)."""
        capacity: dict[str, int] = {}
        for department in self._config().departments.values():
            free = self._free(department, now)
            if free > 0:
                capacity[department.id] = free
        return capacity

    def _free(self, department: Department, now: datetime) -> int:
        delivery = department.delivery
        if delivery.mode != "push" or delivery.endpoint is None or not department.enabled:
            return 0
        if department.id in self._gone:
            return 0
        free = delivery.concurrency - self.in_flight[department.id]
        breaker = self.breakers.get(department.id)
        state = breaker.state(now)
        if state is State.OPEN or (state is State.HALF_OPEN and breaker.probing):
            return 0
        return min(free, 1) if state is State.HALF_OPEN else free

    async def _sleep_for(self) -> float:
        now = self._clock.now()
        capacity = self.capacity(now)
        due = await self._store.next_due(capacity.keys()) if capacity else None
        wake = [self._poll]
        if due is not None:
            wake.append((due - now).total_seconds())
        for reopens in self.breakers.reopen_times(now):
            wake.append((reopens - now).total_seconds())
        return max(min(wake), 0.0)

    # ------------------------------------------------------------------ one attempt

    async def _attempt(self, item: ClaimedDelivery) -> None:
        recipient = item.delivery.recipient
        try:
            department = self._config().departments.get(recipient)
            endpoint = department.delivery.endpoint if department is not None else None
            if department is None or endpoint is None or not department.enabled:
                await self._store.release_claim(item.message.seq, recipient, self._owner)
                return
            now = self._clock.now()
            if not self.breakers.get(recipient).allow(now):
                await self._store.release_claim(item.message.seq, recipient, self._owner)
                return
            message = item.message
            result = await self._pusher.push(
                endpoint,
                message.body,
                f"{message.source}:{message.event_id}",
                now,
                department.delivery.timeout_seconds,
            )
            await self._record(item, result)
        finally:
            self.in_flight[recipient] -= 1
            if self.in_flight[recipient] <= 0:
                del self.in_flight[recipient]

    async def _record(self, item: ClaimedDelivery, result: PushResult) -> None:
        recipient = item.delivery.recipient
        now = self._clock.now()
        outcome = "delivered" if result.delivered else ("gone" if result.gone else "failed")
        self._metrics.delivery_attempts.labels(self._metrics.dept_label(recipient), outcome).inc()
        if not result.delivered:
            _log_failed_attempt(item, result)
        self._track_breaker(recipient, result, now)
        if result.delivered:
            await self._delivered(item, now, result.receipt)
        elif result.gone:
            await self._endpoint_gone(item, now)
        else:
            await self._failed(item, now, result.error or "failed")

    def _track_breaker(self, recipient: str, result: PushResult, now: datetime) -> None:
        """Feed the breaker (no await in here, so concurrent attempts see each change once)
        and log a change of state with the gauge following it."""
        breaker = self.breakers.get(recipient)
        before = breaker.state(now)
        if result.delivered or result.gone:
            breaker.success()  # a 410 answered too: the endpoint is not down, it is gone
        else:
            breaker.failure(now)
        after = breaker.state(now)
        if after is not before:
            reopens = breaker.reopens_at()
            log.warning(
                "delivery.breaker_changed",
                recipient=recipient,
                before=before.value,
                after=after.value,
                probe_at=utc_iso(reopens) if reopens is not None else None,
            )
        self._metrics.breaker_open.labels(self._metrics.dept_label(recipient)).set(
            0 if after is State.CLOSED else 1
        )

    async def _endpoint_gone(self, item: ClaimedDelivery, now: datetime) -> None:
        """DESIGN section 7: a 410 disables the endpoint. Kept in the store (every instance
        and every restart sees it) until an administrator enables the department; the
        delivery that got it is dead-lettered, the others wait, pending."""
        recipient = item.delivery.recipient
        await self._store.mark_gone(
            recipient,
            now,
            GONE_REASON,
            AuditEvent("endpoint.gone", "gateway", now, recipient, {"reason": GONE_REASON}),
        )
        self._gone = self._gone | {recipient}
        self._metrics.endpoint_gone.labels(self._metrics.dept_label(recipient)).set(1)
        log.warning("delivery.endpoint_gone", recipient=recipient)
        await self._dead(item, item.delivery.attempts + 1, GONE_REASON)

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


def _log_failed_attempt(item: ClaimedDelivery, result: PushResult) -> None:
    """One line per failed push: who, which message (sequence, not content), which attempt,
    and what the endpoint did (status or the transport error), never the body."""
    log.warning(
        "delivery.attempt_failed",
        recipient=item.delivery.recipient,
        seq=item.message.seq,
        attempt=item.delivery.attempts + 1,
        status=result.status,
        error=result.error,
    )
