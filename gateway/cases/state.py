"""One case's state and the rules that move it: pure functions, no I/O.

Why pure: the same message may be seen twice (at-least-once, a second instance, a restart
catching up), so applying a message must be idempotent, and the stage rules must be testable
without a gateway. The service (``service.py``) loads a state, applies one message, carries
out the resulting actions (material requests, notices) and saves the state.

The state keeps no personal data: the worker's name and ID number stay in the application
form's message, which the service reads again (by sequence number) when it needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from gateway.cases.definition import CaseDefinition, Material, Stage, short_type
from gateway.clock import utc_iso

OPEN = "open"
CLOSED = "closed"


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
    kind: str  # opened | document | request | notice | stage | closed | deadline
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


@dataclass(frozen=True, slots=True)
class Notice:
    stage: str
    status: str  # the case_notice schema's status enum
    recipients: tuple[str, ...]
    message: str
    message_en: str


@dataclass(frozen=True, slots=True)
class Closed:
    outcome: str
    duration: timedelta


@dataclass(frozen=True, slots=True)
class Breached:
    stage: str


Action = Request | Notice | Closed | Breached


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
    warned: bool = False
    breached: bool = False
    parties: list[str] = field(default_factory=list)
    needed: dict[str, list[str]] = field(default_factory=dict)  # stage -> material types
    received: dict[str, int] = field(default_factory=dict)  # material type -> message seq
    decisions: dict[str, int] = field(default_factory=dict)  # decision type -> message seq
    requested: list[str] = field(default_factory=list)  # "stage:type" already asked for
    ready_notified: list[str] = field(default_factory=list)  # stages whose decider was told
    steps: list[Step] = field(default_factory=list)

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> bytes:
        """The state as stored: orjson writes a dataclass as a map of its fields in order,
        the same bytes as ``orjson.dumps(dataclasses.asdict(self))`` without asdict's deep
        copy, which was the case layer's largest cost per message
        (bench/results/profile-cases.txt)."""
        return orjson.dumps(self)

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

    def missing(self, stage: str) -> list[str]:
        return [t for t in self.needed.get(stage, []) if t not in self.received]

    def deadline_flag(self, now: datetime, warn_before: timedelta) -> str:
        """``ok``, ``near``, ``overdue`` while open; ``met`` or ``missed`` once closed."""
        if self.status == CLOSED:
            closed = datetime.fromisoformat(self.closed_at or self.opened_at)
            return "missed" if closed > self.due() else "met"
        if now > self.due():
            return "overdue"
        return "near" if now >= self.due() - warn_before else "ok"

    def _step(self, at: datetime, kind: str, note: str, **extra: Any) -> None:
        self.steps.append(Step(at=utc_iso(at), kind=kind, stage=self.stage, note=note, **extra))

    def join(self, *departments: str) -> None:
        self.parties = sorted(set(self.parties).union(departments))


# ---------------------------------------------------------------------- the rules


def open_case(
    definition: CaseDefinition, case_id: str, arrival: Arrival
) -> tuple[CaseState, list[Action]]:
    """A new case from its application form; the first stage starts at once."""
    first = definition.stages[0]
    state = CaseState(
        case_id=case_id,
        definition=definition.name,
        opened_at=utc_iso(arrival.at),
        deadline=utc_iso(arrival.at + definition.deadline),
        form_seq=arrival.seq,
        stage=first.name,
        needed={s.name: [m.type for m in s.needed(arrival.data)] for s in definition.stages},
    )
    state.join(definition.service, arrival.source, *arrival.recipients)
    state._step(
        arrival.at,
        "opened",
        f"application received from {arrival.source}; deadline {state.deadline[:10]}",
        type=arrival.type,
        source=arrival.source,
        recipients=list(arrival.recipients),
        seq=arrival.seq,
    )
    actions = _enter(definition, state, first, arrival.at)
    return state, actions + _advance(definition, state, arrival.at)


def apply(definition: CaseDefinition, state: CaseState, arrival: Arrival) -> list[Action]:
    """Record ``arrival`` and move the case as far as the rules allow. Idempotent."""
    if state.seen(arrival.seq):
        return []
    state.join(arrival.source, *arrival.recipients)
    note = _classify(definition, state, arrival)
    state._step(
        arrival.at,
        "document",
        note,
        type=arrival.type,
        source=arrival.source,
        recipients=list(arrival.recipients),
        seq=arrival.seq,
    )
    if state.status == CLOSED:
        return []
    stage = definition.stage(state.stage)
    refusal = _refusal(stage, state, arrival)
    if refusal is not None:
        return _close(definition, state, arrival.at, "refused", refusal)
    if _refuses(stage, arrival):
        return _close(
            definition, state, arrival.at, f"{stage.name}_refused", f"{stage.name} decided: no"
        )
    return _advance(definition, state, arrival.at)


def check_deadline(definition: CaseDefinition, state: CaseState, now: datetime) -> list[Action]:
    """Flag a case nearing (once) and passing (once) its deadline."""
    if state.status == CLOSED:
        return []
    flag = state.deadline_flag(now, definition.warn_before)
    stage = definition.stage(state.stage)
    if flag == "overdue" and not state.breached:
        state.breached = True
        state.warned = True
        missing = ", ".join(short_type(t) for t in state.missing(stage.name)) or "the decision"
        state._step(now, "deadline", f"deadline passed; still waiting for {missing}")
        return [
            Breached(stage.name),
            Notice(
                stage.name,
                "overdue",
                _notified(definition, stage),
                f"案件已超过{definition.deadline.days}日办结时限，仍在等待：{missing}。",
                f"The case is past its {definition.deadline.days}-day deadline; "
                f"waiting for {missing}.",
            ),
        ]
    if flag == "near" and not state.warned:
        state.warned = True
        state._step(now, "deadline", f"deadline near: {state.deadline[:10]}")
    return []


# ---------------------------------------------------------------------- internals


def _classify(definition: CaseDefinition, state: CaseState, arrival: Arrival) -> str:
    """Count the document if it is what the case waits for from whom it waits for it."""
    for stage in definition.stages:
        if arrival.type == stage.decision:
            if arrival.source != stage.decided_by:
                return f"{stage.title} decision from {arrival.source}, not the deciding body"
            state.decisions.setdefault(arrival.type, arrival.seq)
            return f"decision for {stage.name}"
        for material in stage.materials:
            if material.type == arrival.type and arrival.type in state.needed[stage.name]:
                if arrival.source != material.issuer:
                    return f"not from the issuing department {material.issuer}; not counted"
                state.received.setdefault(arrival.type, arrival.seq)
                return f"material for {stage.name}"
    return "recorded"


def _refusal(stage: Stage, state: CaseState, arrival: Arrival) -> str | None:
    for material in stage.materials:
        if (
            material.type == arrival.type
            and state.received.get(arrival.type) == arrival.seq
            and material.refuse_when is not None
            and material.refuse_when.holds(arrival.data)
        ):
            return material.refuse_reason
    return None


def _refuses(stage: Stage, arrival: Arrival) -> bool:
    """The stage's decision arrived and says the case goes no further."""
    return (
        arrival.type == stage.decision
        and arrival.source == stage.decided_by
        and stage.proceeds_when is not None
        and not stage.proceeds_when.holds(arrival.data)
    )


def _enter(
    definition: CaseDefinition, state: CaseState, stage: Stage, at: datetime
) -> list[Action]:
    actions: list[Action] = []
    for material in stage.materials:
        key = f"{stage.name}:{material.type}"
        if (
            material.type in state.needed[stage.name]
            and material.type not in state.received
            and key not in state.requested
        ):
            state.requested.append(key)
            actions.append(Request(stage.name, material))
    missing = state.missing(stage.name)
    if missing:
        actions.append(
            Notice(
                stage.name,
                "waiting_for_materials",
                _notified(definition, stage),
                f"{stage.title}阶段开始，已向有关部门调取材料：{len(missing)}项。",
                f"Stage {stage.name} started; {len(missing)} material(s) requested.",
            )
        )
    return actions


def _advance(definition: CaseDefinition, state: CaseState, at: datetime) -> list[Action]:
    """Move through every stage that is complete and decided (several, if documents came
    early), telling each decider once when its materials are all in."""
    actions: list[Action] = []
    while state.status != CLOSED:
        stage = definition.stage(state.stage)
        if state.missing(stage.name):
            return actions
        if stage.decision not in state.decisions:
            if stage.name not in state.ready_notified:
                state.ready_notified.append(stage.name)
                state._step(at, "stage", f"materials complete; waiting for {stage.decided_by}")
                actions.append(
                    Notice(
                        stage.name,
                        "in_progress",
                        (stage.decided_by,),
                        f"{stage.title}所需材料已齐全，请作出决定。",
                        f"All materials for {stage.name} are in; please decide.",
                    )
                )
            return actions
        following = definition.next_stage(stage.name)
        if following is None:
            return actions + _close(definition, state, at, "completed", f"{stage.name} decided")
        state._step(at, "stage", f"{stage.name} completed; {following.name} begins")
        state.stage = following.name
        actions += _enter(definition, state, following, at)
    return actions


def _close(
    definition: CaseDefinition, state: CaseState, at: datetime, outcome: str, reason: str
) -> list[Action]:
    state.status = CLOSED
    state.outcome = outcome
    state.reason = reason
    state.closed_at = utc_iso(at)
    state._step(at, "closed", f"case closed: {outcome} ({reason})")
    stage = definition.stage(state.stage)
    status = "closed" if outcome == "completed" else "rejected"
    return [
        Closed(outcome, at - state.opened()),
        Notice(
            stage.name,
            status,
            (definition.applicant_channel, stage.decided_by),
            "案件已办结。" if outcome == "completed" else f"案件终止：{reason}",
            "The case is closed." if outcome == "completed" else f"Case ended: {reason}",
        ),
    ]


def _notified(definition: CaseDefinition, stage: Stage) -> tuple[str, ...]:
    return (stage.decided_by, definition.applicant_channel)
