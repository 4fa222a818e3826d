"""One case's state and the actions its rules ask for (``rules.py`` moves a case by its
documents, ``clocks.py`` by the passing of time): data only, no I/O.

The service (``service.py``) loads a state, applies one message or one look at the clock,
carries out the resulting actions (material requests, notices) and saves the state.

Why every action carries its time: what the service sends must be a function of the case's
state (DESIGN section 10), so a re-send after a crash, or by a second instance, is the same
message and gets its first receipt. An action's time is the acceptance time of the message
that caused it, or the instant a clock ran out, never the reading of a wall clock.

The state keeps no personal data: the worker's name and ID number stay in the application
form's message, which the service reads again (by sequence number) and passes to
``rules.apply`` for the cross-checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from gateway.cases.definition import Clock, Material
from gateway.clock import utc_iso

CHINA = timezone(timedelta(hours=8))  # due dates are calendar days in Zhejiang
OPEN = "open"
CLOSED = "closed"
Form = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Arrival:
    """An accepted message under a case id, as the case layer sees it."""

    seq: int
    at: datetime
    source: str
    type: str
    recipients: tuple[str, ...]
    data: Mapping[str, Any]


@dataclass(slots=True)
class Step:
    at: str
    kind: str  # opened | document | request | notice | stage | flag | clock | closed | deadline
    stage: str
    note: str
    type: str | None = None
    source: str | None = None
    recipients: list[str] = field(default_factory=list)
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """Ask ``material.issuer`` for ``material`` under this case."""

    stage: str
    material: Material
    at: datetime


@dataclass(frozen=True, slots=True)
class Notice:
    """A case notice; ``key`` makes its event id unique within the case."""

    key: str
    stage: str
    status: str  # the case_notice schema's status enum
    recipients: tuple[str, ...]
    message: str
    message_en: str
    at: datetime
    extra: tuple[tuple[str, Any], ...] = ()  # further case_notice fields


@dataclass(frozen=True, slots=True)
class Closed:
    outcome: str
    duration: timedelta


@dataclass(frozen=True, slots=True)
class Breached:
    stage: str


@dataclass(frozen=True, slots=True)
class ClockPassed:
    clock: str
    what: str  # warned | breached


Action = Request | Notice | Closed | Breached | ClockPassed


@dataclass(slots=True)
class CaseState:
    case_id: str
    definition: str
    opened_at: str
    deadline: str
    form_seq: int
    stage: str
    status: str = OPEN
    outcome: str | None = None
    reason: str | None = None
    closed_at: str | None = None
    handed_to: str | None = None
    warned: bool = False
    breached: bool = False
    parties: list[str] = field(default_factory=list)
    needed: dict[str, list[str]] = field(default_factory=dict)  # stage -> material types
    received: dict[str, int] = field(default_factory=dict)  # material type -> message seq
    received_at: dict[str, str] = field(default_factory=dict)  # material type -> time
    not_counted: dict[str, list[str]] = field(default_factory=dict)  # type -> reasons
    decisions: dict[str, int] = field(default_factory=dict)  # decision type -> message seq
    decided_at: dict[str, str] = field(default_factory=dict)  # stage -> decision time
    stage_started: dict[str, str] = field(default_factory=dict)  # stage -> time
    clocks: dict[str, str] = field(default_factory=dict)  # clock -> warned | extended | breached
    flags: list[str] = field(default_factory=list)  # advisory flags for the deciding bodies
    requested: list[str] = field(default_factory=list)  # "stage:type" already asked for
    ready_notified: list[str] = field(default_factory=list)  # stages whose decider was told
    steps: list[Step] = field(default_factory=list)

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> CaseState:
        data = orjson.loads(raw)
        data["steps"] = [Step(**s) for s in data["steps"]]
        return cls(**data)

    # ------------------------------------------------------------------ reading

    def seen(self, seq: int) -> bool:
        return any(step.seq == seq for step in self.steps)

    def opened(self) -> datetime:
        return datetime.fromisoformat(self.opened_at)

    def due(self) -> datetime:
        return datetime.fromisoformat(self.deadline)

    def missing(self, stage: str, as_of: datetime | None = None) -> list[str]:
        """Materials the stage waits for (received after ``as_of`` count as missing)."""
        return [
            t
            for t in self.needed.get(stage, [])
            if t not in self.received
            or (as_of is not None and datetime.fromisoformat(self.received_at[t]) > as_of)
        ]

    def material_status(self, doc_type: str) -> str:
        """``received``, ``not_counted`` (arrived but fails a cross-check) or ``missing``."""
        if doc_type in self.received:
            return "received"
        return "not_counted" if doc_type in self.not_counted else "missing"

    def deadline_flag(self, now: datetime, warn_before: timedelta) -> str:
        """``ok``, ``near``, ``overdue`` while open; ``met`` or ``missed`` once closed."""
        if self.status == CLOSED:
            closed = datetime.fromisoformat(self.closed_at or self.opened_at)
            return "missed" if closed > self.due() else "met"
        if now > self.due():
            return "overdue"
        return "near" if now >= self.due() - warn_before else "ok"

    def clock_due(self, clock: Clock) -> datetime | None:
        """When ``clock`` runs out, or None while it has not started."""
        start = self.opened_at if clock.starts == "opened" else self.stage_started.get(clock.stage)
        return None if start is None else datetime.fromisoformat(start) + clock.limit

    def _step(self, at: datetime, kind: str, note: str, **extra: Any) -> None:
        self.steps.append(Step(at=utc_iso(at), kind=kind, stage=self.stage, note=note, **extra))

    def join(self, *departments: str) -> None:
        self.parties = sorted(set(self.parties).union(departments))
