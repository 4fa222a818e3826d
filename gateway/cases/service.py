"""The case service: applies accepted messages to their case and carries out what follows.

It is a department of its own (``330784.onething``), hosted by the gateway, like an X-Road
subsystem: its material requests and notices are signed with its own key and go through the
same acceptance, routing, storage, delivery and audit as any department's message, so a
recipient cannot tell (and need not care) that the sender lives in the gateway.

Order of work for one message, and why: load the case, apply the message (pure rules),
send what the rules ask for, then save with a version check. Sending first means a crash
between the two repeats the sending on the next look at the case, and repeating is harmless
because every message the service sends is a function of the case's state: its event id,
its time and its document come from the case and the message that moved it, never from the
wall clock, so a repeat (after a crash, or by a second instance working on the same case) is
the same message, and the gateway answers it with the first receipt. Saving first could lose
a request for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from gateway.audit.chain import AuditEvent
from gateway.cases.clocks import check_deadline
from gateway.cases.definition import CaseDefinition, short_type
from gateway.cases.rules import apply, open_case
from gateway.cases.state import (
    CHINA,
    Action,
    Arrival,
    Breached,
    CaseState,
    ClockPassed,
    Closed,
    Notice,
    Request,
    Step,
)
from gateway.cases.statistics import summarise
from gateway.clock import Clock, utc_iso
from gateway.messages import SignedMessage, build_event, sign_message
from gateway.metrics import Metrics
from gateway.problems import GatewayError
from gateway.routing.router import resolve_pointer
from gateway.storage.base import CaseRecord, MessageRecord, Store
from gateway.trust import SigningKey

if TYPE_CHECKING:  # acceptance checks case ids with gateway.cases.agreement: no cycle at run time
    from gateway.acceptance import Accepted
    from gateway.intake import Intake

log = structlog.get_logger("gateway.cases")

CASE_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
_ATTEMPTS = 5  # optimistic-lock retries before giving up on one message
_AUDITED = frozenset({"opened", "stage", "closed", "deadline"})


Rule = Callable[[CaseState | None], Awaitable[tuple[CaseState, list[Action]] | None]]


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as ``GET /v1/cases/{id}`` shows it."""

    state: CaseState
    flag: str


class CaseService:
    def __init__(
        self,
        definition: CaseDefinition,
        store: Store,
        intake: Intake,
        key: SigningKey,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        """``intake``: the way in its own messages take, as any department's do (the hosted
        intake: the case's times of record are not checked against the clock)."""
        self.definition = definition
        self._store = store
        self._intake = intake
        self._key = key
        self._clock = clock
        self._metrics = metrics
        # One update at a time per case within an instance (different cases proceed
        # together, so their saves share a group commit); across instances the version
        # check. A lock lives only while someone holds or awaits it.
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        # Catch-up: every message at or below the cursor has been looked at; sequence
        # numbers observed on the submit path above it need not be looked at again.
        self._cursor = 0
        self._observed: set[int] = set()

    # ------------------------------------------------------------------ entry points

    def concerns(self, record: MessageRecord) -> bool:
        """Cheap test on the submit path: only forms and messages under a case id matter."""
        if record.source == self.definition.service:
            return False  # its own messages are recorded when it sends them
        return record.type == self.definition.opened_by or record.subject is not None

    async def observe(self, accepted: Accepted) -> None:
        """Apply an accepted message to its case. Never raises: the message is accepted
        whatever happens here; a failure is logged and counted, and ``catch_up`` applies
        the message on its next pass."""
        record = accepted.record
        if self.concerns(record):
            recipients = tuple(dept for dept, _ in accepted.recipients)
            await self._guarded(record, recipients, accepted.document)

    async def _guarded(
        self,
        record: MessageRecord,
        recipients: tuple[str, ...],
        document: Mapping[str, Any] | None = None,
    ) -> bool:
        try:
            await self._observe(record, recipients, document)
        except Exception as exc:  # the message stands; catch-up tries it again
            self._metrics.case_errors.inc()
            log.error("case.observe_failed", error=type(exc).__name__, seq=record.seq)
            return False
        self._observed.add(record.seq)
        return True

    async def catch_up(self, batch: int = 500) -> int:
        """Observe what the submit path did not: a message whose case update failed, or was
        cut off by a crash between the commit and the update. Returns how many it applied.

        Why a cursor in memory and a window on restart: the first call reads back
        ``2 x deadline`` of messages (a case is decided within its deadline, so nothing
        older can still move one); later calls read only what is new. Applying a message
        twice is harmless (steps are keyed by sequence number), so several instances
        catching up over the same messages only cost work, never a wrong case.
        """
        since = self._clock.now() - 2 * self.definition.deadline
        applied = 0
        while records := await self._store.messages_after(self._cursor, since, batch):
            for record in records:
                if record.seq not in self._observed and self.concerns(record):
                    deliveries = await self._store.deliveries_for(record.seq)
                    recipients = tuple(d.recipient for d in deliveries)
                    if not await self._guarded(record, recipients):
                        return applied  # stop here; the next pass starts from this message
                    applied += 1
                self._cursor = record.seq
        self._observed = {seq for seq in self._observed if seq > self._cursor}
        return applied

    async def view(self, case_id: str) -> CaseView | None:
        stored = await self._store.get_case(case_id)
        if stored is None:
            return None
        state = CaseState.from_json(stored.state)
        return CaseView(state, state.deadline_flag(self._clock.now(), self.definition.warn_before))

    async def open_views(self, limit: int) -> list[CaseView]:
        """Open cases, nearest deadline first."""
        now, warn = self._clock.now(), self.definition.warn_before
        views = []
        for stored in await self._store.open_cases(limit=limit):
            state = CaseState.from_json(stored.state)
            views.append(CaseView(state, state.deadline_flag(now, warn)))
        return views

    async def statistics(self, limit: int = 100_000) -> dict[str, Any]:
        """The reform's figures over closed cases (``statistics.summarise``)."""
        closed = await self._store.closed_cases(datetime(2000, 1, 1, tzinfo=CHINA), limit)
        states = [CaseState.from_json(c.state) for c in closed]
        return summarise(states, self.definition.statistics_baseline)

    async def check_deadlines(self) -> None:
        """Flag open cases nearing or past their deadline (each flag once per case)."""
        for stored in await self._store.open_cases(limit=10_000):
            await self._update(stored.case_id, self._deadline_rule)
        await self.refresh_gauge()
        await self._count_by_deadline()

    async def _count_by_deadline(self) -> None:
        """``zjx_cases_deadline{flag}``, set by the deadline watch (every ``check_interval``),
        not at each scrape: a scrape must not read every open case."""
        flags = [view.flag for view in await self.open_views(limit=10_000)]
        for flag in ("near", "overdue"):
            self._metrics.cases_by_deadline.labels(flag).set(flags.count(flag))

    async def refresh_gauge(self) -> None:
        counts = await self._store.count_open_cases()
        for stage in self.definition.stages:
            self._metrics.cases_open.labels(stage.name).set(counts.get(stage.name, 0))

    # ------------------------------------------------------------------ one message

    async def _observe(
        self,
        record: MessageRecord,
        recipients: tuple[str, ...],
        document: Mapping[str, Any] | None,
    ) -> None:
        data = document if document is not None else _document(record)
        arrival = Arrival(
            record.seq, record.accepted_at, record.source, record.type, recipients, data
        )
        case_id = self._case_id(record, data)
        if case_id is None:
            return
        opens = record.type == self.definition.opened_by

        forms: dict[int, Mapping[str, Any]] = {}

        async def rule(state: CaseState | None) -> tuple[CaseState, list[Action]] | None:
            if state is None:
                return open_case(self.definition, case_id, arrival) if opens else None
            if state.form_seq not in forms:
                forms[state.form_seq] = await self._form(state)
            return state, apply(self.definition, state, arrival, forms[state.form_seq])

        if await self._update(case_id, rule):  # opened, moved or closed: the gauge changes
            await self.refresh_gauge()

    def _case_id(self, record: MessageRecord, data: Any) -> str | None:
        case_id = record.subject
        if case_id is None and record.type == self.definition.opened_by:
            found = resolve_pointer(data, self.definition.case_id_pointer)
            case_id = self.definition.case_id_from(found) if isinstance(found, str) else None
        if not case_id or len(case_id) > 64 or not set(case_id) <= CASE_ID_CHARS:
            return None
        return case_id

    async def _deadline_rule(
        self, state: CaseState | None
    ) -> tuple[CaseState, list[Action]] | None:
        if state is None:
            return None
        return state, check_deadline(self.definition, state, self._clock.now())

    async def _update(
        self,
        case_id: str,
        rule: Rule,
    ) -> bool:
        """Load, apply ``rule``, carry out its actions, save; again on a version conflict.
        True when the case was opened or changed stage or status."""
        async with self._locked(case_id):
            return await self._update_locked(case_id, rule)

    @contextlib.asynccontextmanager
    async def _locked(self, case_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(case_id, asyncio.Lock())
        self._waiting[case_id] = self._waiting.get(case_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[case_id] -= 1
            if not self._waiting[case_id]:
                del self._waiting[case_id], self._locks[case_id]

    async def _update_locked(
        self,
        case_id: str,
        rule: Rule,
    ) -> bool:
        for _ in range(_ATTEMPTS):
            stored = await self._store.get_case(case_id)
            before = None if stored is None else CaseState.from_json(stored.state)
            steps_before = 0 if before is None else len(before.steps)
            where = None if stored is None else (stored.stage, stored.status)
            outcome = await rule(before)
            if outcome is None:
                return False
            state, actions = outcome
            if len(state.steps) == steps_before and not actions:
                return False  # nothing new (a message seen before)
            await self._carry_out(state, actions)
            version = 1 if stored is None else stored.version + 1
            audit = self._audit(state, steps_before)
            if await self._store.save_case(self._record(state, version), audit):
                self._count(actions)
                return where != (state.stage, state.status)
        log.error("case.update_conflict", case_id=case_id)
        self._metrics.case_errors.inc()
        return False

    def _record(self, state: CaseState, version: int) -> CaseRecord:
        return CaseRecord(
            case_id=state.case_id,
            stage=state.stage,
            status=state.status,
            opened_at=state.opened(),
            deadline=state.due(),
            version=version,
            state=state.to_json(),
        )

    def _audit(self, state: CaseState, steps_before: int) -> list[AuditEvent]:
        """Stage changes reach the audit chain in the transaction that saves them."""
        return [
            AuditEvent(
                action=f"case.{step.kind}",
                actor=self.definition.service,
                at=datetime.fromisoformat(step.at),
                target=state.case_id,
                detail={"stage": step.stage, "note": step.note},
            )
            for step in state.steps[steps_before:]
            if step.kind in _AUDITED
        ]

    def _count(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Closed):
                self._metrics.case_duration.observe(action.duration.total_seconds())
            elif isinstance(action, Breached):
                self._metrics.case_deadline_breaches.labels(action.stage).inc()
            elif isinstance(action, ClockPassed):
                self._metrics.case_clock_events.labels(action.clock, action.what).inc()

    # ------------------------------------------------------------------ sending

    async def _carry_out(self, state: CaseState, actions: list[Action]) -> None:
        form: Mapping[str, Any] | None = None
        for action in actions:
            if isinstance(action, Request):
                if form is None:
                    form = await self._form(state)
                await self._send(state, action.at, *self._request(state, action, form))
            elif isinstance(action, Notice):
                await self._send(state, action.at, *self._notice(state, action))

    async def _send(
        self,
        state: CaseState,
        now: datetime,
        event_id: str,
        doc_type: str,
        data: dict[str, Any],
        note: str,
    ) -> None:
        """Send one message of the case at ``now``, the case's time of record for it."""
        payload = build_event(
            source=self.definition.service,
            type=doc_type,
            data=data,
            id=event_id,
            subject=state.case_id,
            time=now,
        )
        try:
            accepted = await self._intake.accept(sign_message(payload, self._key))
        except GatewayError as exc:
            # A refused request is recorded, not retried for ever: the timeline shows it and
            # an operator can see why (for instance the issuer is disabled).
            log.warning("case.send_refused", problem=exc.slug, type=doc_type)
            state.steps.append(_sent(now, state.stage, f"{note}: refused ({exc.slug})", doc_type))
            return
        recipients = [dept for dept, _ in accepted.recipients]
        if not recipients:  # a repeat: the first acceptance named them
            recipients = [
                d.recipient for d in await self._store.deliveries_for(accepted.record.seq)
            ]
        state.join(*recipients)
        step = _sent(now, state.stage, note, doc_type, accepted.record.seq, recipients)
        step.source = self.definition.service
        state.steps.append(step)

    async def _form(self, state: CaseState) -> Mapping[str, Any]:
        record = await self._store.get_message(state.form_seq)
        if record is None:  # purged by retention: requests go out without the person
            return {}
        return _document(record)

    def _request(
        self, state: CaseState, action: Request, form: Mapping[str, Any]
    ) -> tuple[str, str, dict[str, Any], str]:
        material = action.material
        stage = self.definition.stage(action.stage)
        worker = resolve_pointer(form, self.definition.worker_pointer)
        person = worker if isinstance(worker, Mapping) else {}
        now = action.at
        data = {
            "case_id": state.case_id,
            "request_id": _bounded(f"{state.case_id}-{material.short}"),
            "requested_type": material.type,
            "requested_from": material.issuer,
            "subject": {"name": person.get("name"), "id_number": person.get("id_number")},
            "reason": f"{self.definition.title}（{stage.title}）所需材料，请通过交换平台报送。",
            "reason_code": "required_by_route",
            "requested_at": utc_iso(now),
            "due_date": (now + self.definition.material_due).astimezone(CHINA).date().isoformat(),
        }
        event_id = f"{state.case_id}/request/{action.stage}/{material.short}"
        note = f"requested {material.short} from {material.issuer}"
        return event_id, REQUEST_TYPE, data, note

    def _notice(self, state: CaseState, action: Notice) -> tuple[str, str, dict[str, Any], str]:
        data = {
            "case_id": state.case_id,
            "notice_id": _bounded(f"{state.case_id}-{action.key.replace('/', '-')}"),
            "stage": action.stage,
            "status": action.status,
            "message": action.message[:2000],
            "message_en": action.message_en[:2000],
            "issued_at": utc_iso(action.at),
            "recipients": list(action.recipients),
            **dict(action.extra),
        }
        if action.at <= state.due() and state.status == "open":
            # "the next deadline": none once it has passed or the case is closed
            data["deadline"] = state.due().astimezone(CHINA).date().isoformat()
        event_id = f"{state.case_id}/notice/{action.key}"
        note = f"notice ({action.status}) to {', '.join(action.recipients)}"
        return event_id, NOTICE_TYPE, data, note


def _document(record: MessageRecord) -> Mapping[str, Any]:
    """The document of a stored message (its countersigned body parsed again)."""
    data = SignedMessage.parse(record.body, max_bytes=len(record.body) + 1).event.data
    return data if isinstance(data, Mapping) else {}


REQUEST_TYPE = "cn.gov.zj.injury.material_request.v1"
NOTICE_TYPE = "cn.gov.zj.injury.case_notice.v1"


def _sent(
    at: datetime,
    stage: str,
    note: str,
    doc_type: str,
    seq: int | None = None,
    recipients: list[str] | None = None,
) -> Step:
    kind = "request" if doc_type == REQUEST_TYPE else "notice"
    return Step(
        at=utc_iso(at),
        kind=kind,
        stage=stage,
        note=note,
        type=doc_type,
        recipients=recipients or [],
        seq=seq,
    )


def _bounded(text: str, limit: int = 64) -> str:
    """Document numbers are at most 64 characters; a long case id keeps a stable hash."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{text[: limit - 13]}-{digest}"


__all__ = ["CaseService", "CaseView", "short_type"]
