"""One case's state and the rules that move it: pure functions, no I/O.

Why pure: the same message may be seen twice (at-least-once, a second instance, a restart
catching up), so applying a message must be idempotent, and the stage rules must be testable
without a gateway. The service (``service.py``) loads a state, applies one message, carries
out the resulting actions (material requests, notices) and saves the state.

Why every action carries its time: what the service sends must be a function of the case's
state (DESIGN section 10), so a re-send after a crash, or by a second instance, is the same
message and gets its first receipt. An action's time is the acceptance time of the message
that caused it, or the instant a clock ran out, never the reading of a wall clock.

The case layer informs and times; it never decides. A decision arrives as the deciding body's
document; the rules below only count materials, flag what the law gives a body to weigh, and
follow the ``[[outcomes]]`` of the definition when a body's document ends the simplified route.

The state keeps no personal data: the worker's name and ID number stay in the application
form's message, which the service reads again (by sequence number) and passes to ``apply``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from gateway.cases.definition import CaseDefinition, Clock, Material, Outcome, Stage, short_type
from gateway.clock import utc_iso
from gateway.routing.router import resolve_pointer

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


# ---------------------------------------------------------------------- the rules


def open_case(
    definition: CaseDefinition, case_id: str, arrival: Arrival
) -> tuple[CaseState, list[Action]]:
    """A new case from its application form: accepted (受理) with one written list of what is
    missing, the first stage's requests sent, the form's own facts checked."""
    form = arrival.data
    first = definition.stages[0]
    state = CaseState(
        case_id=case_id,
        definition=definition.name,
        opened_at=utc_iso(arrival.at),
        deadline=utc_iso(arrival.at + definition.deadline),
        form_seq=arrival.seq,
        stage=first.name,
        needed={s.name: [m.type for m in s.needed(form)] for s in definition.stages},
        stage_started={first.name: utc_iso(arrival.at)},
    )
    state.join(definition.service, definition.employer_channel, arrival.source, *arrival.recipients)
    state._step(
        arrival.at,
        "opened",
        f"application received from {arrival.source}; deadline {state.deadline[:10]}",
        type=arrival.type,
        source=arrival.source,
        recipients=list(arrival.recipients),
        seq=arrival.seq,
    )
    actions: list[Action] = [_accepted(definition, state, arrival.at)]
    actions += _late_application(definition, state, form, arrival.at)
    outcome = definition.outcome_for(arrival.type, arrival.source, form, form)
    if outcome is not None:
        return state, actions + _leave(definition, state, arrival, outcome)
    actions += _enter(definition, state, first, arrival.at)
    return state, actions + _advance(definition, state, arrival.at)


def apply(
    definition: CaseDefinition, state: CaseState, arrival: Arrival, form: Form
) -> list[Action]:
    """Record ``arrival`` and move the case as far as the rules allow. Idempotent.
    ``form`` is the case's application form, for the cross-checks."""
    if state.seen(arrival.seq):
        return []
    state.join(arrival.source, *arrival.recipients)
    note, counted = _classify(definition, state, arrival, form)
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
    if not counted:
        return _not_counted(definition, state, arrival, note)
    actions = _advice(definition, state, arrival, form)
    outcome = definition.outcome_for(arrival.type, arrival.source, arrival.data, form)
    if outcome is not None:
        return actions + _leave(definition, state, arrival, outcome)
    actions += _employer_owes(definition, state, arrival)
    return actions + _advance(definition, state, arrival.at)


def check_deadline(definition: CaseDefinition, state: CaseState, now: datetime) -> list[Action]:
    """Flag the 30-day promise nearing (once) and passing (once), and each clock of the law
    warning, reaching its limit and running out. Each flag's time is the instant it was due,
    so a second instance or a late watch flags the same way."""
    if state.status == CLOSED:
        return []
    actions = _promise(definition, state, now)
    for clock in definition.clocks:
        actions += _clock(definition, state, clock, now)
    return actions


# ---------------------------------------------------------------------- opening


def _accepted(definition: CaseDefinition, state: CaseState, at: datetime) -> Notice:
    """The acceptance notice (受理通知): one written list of every material still missing
    (recognition measures art. 8: the applicant is told once, completely)."""
    missing = [t for stage in definition.stages for t in state.missing(stage.name)]
    names = "、".join(short_type(t) for t in missing) or "无"
    return Notice(
        "accepted",
        "acceptance",
        "opened",
        (definition.applicant_channel, definition.employer_channel),
        f"申请已受理，案件编号{state.case_id}。尚缺材料（由平台向出具部门调取）：{names}。",
        f"Application accepted as case {state.case_id}; {len(missing)} material(s) missing, "
        "requested from their issuers.",
        at,
        (("missing_materials", missing),),
    )


def _late_application(
    definition: CaseDefinition, state: CaseState, form: Form, at: datetime
) -> list[Action]:
    """Article 17's time limits, flagged to the recognition centre, which decides."""
    actions: list[Action] = []
    for limit in definition.application_limits:
        since = resolve_pointer(form, limit.since)
        if not limit.when.holds(form, form) or not isinstance(since, str):
            continue
        applied = at.astimezone(CHINA).date()
        days = (applied - datetime.fromisoformat(since[:10]).date()).days
        if days > limit.limit.days:
            note = (
                f"application {days} days after the injury; limit {limit.limit.days} "
                f"({limit.source})"
            )
            actions += _flag(definition, state, definition.stages[0], "late-application", note, at)
    return actions


# ---------------------------------------------------------------------- one document


def _classify(
    definition: CaseDefinition, state: CaseState, arrival: Arrival, form: Form
) -> tuple[str, bool]:
    """What the document is for the case and whether it counts: a decision from its body, a
    material from its issuer about the applicant and this accident, a party's statement."""
    for stage in definition.stages:
        if arrival.type == stage.decision:
            if arrival.source != stage.decided_by:
                return f"{stage.title} decision from {arrival.source}, not the deciding body", True
            state.decisions.setdefault(arrival.type, arrival.seq)
            state.decided_at.setdefault(stage.name, utc_iso(arrival.at))
            return f"decision for {stage.name}", True
        material = stage.material(arrival.type)
        if material is None:
            continue
        if arrival.type not in state.needed[stage.name] and not material.optional:
            return "recorded", True
        if arrival.source != material.issuer:
            return f"not from the issuing department {material.issuer}; not counted", True
        fault = _mismatch(material, arrival.data, form)
        if fault is not None:
            reasons = state.not_counted.setdefault(arrival.type, [])
            reasons.append(f"#{arrival.seq}: {fault}")
            return f"not counted: {fault}", False
        if material.optional:
            position = resolve_pointer(arrival.data, "/position")
            said = f" ({position})" if isinstance(position, str) else ""
            return f"supplementary material for {stage.name}{said}", True
        state.received.setdefault(arrival.type, arrival.seq)
        state.received_at.setdefault(arrival.type, utc_iso(arrival.at))
        return f"material for {stage.name}", True
    return "recorded", True


def _mismatch(material: Material, document: Any, form: Form) -> str | None:
    for match in material.matches:
        fault = match.fault(document, form)
        if fault is not None:
            return fault
    return None


def _not_counted(
    definition: CaseDefinition, state: CaseState, arrival: Arrival, note: str
) -> list[Action]:
    """The issuer is told its document was kept but not counted, and why (the reason names
    the field, never the value)."""
    return [
        Notice(
            f"not-counted/{arrival.seq}",
            state.stage,
            "not_counted",
            (arrival.source,),
            f"贵单位报送的{short_type(arrival.type)}与申请表不一致，未计入本案材料：{note}。请核对后重新报送。",
            f"Your {short_type(arrival.type)} was kept but not counted for the case ({note}); "
            "please check and send the right one.",
            arrival.at,
        )
    ]


def _advice(
    definition: CaseDefinition, state: CaseState, arrival: Arrival, form: Form
) -> list[Action]:
    """A rule the law gives to a deciding body: a flag to that body, never a decision."""
    for stage in definition.stages:
        material = stage.material(arrival.type)
        if material is None or material.advise_when is None:
            continue
        if state.received.get(arrival.type) == arrival.seq and material.advise_when.holds(
            arrival.data, form
        ):
            return _flag(
                definition, state, stage, f"advice/{material.short}", material.advice, arrival.at
            )
    return []


def _flag(
    definition: CaseDefinition, state: CaseState, stage: Stage, key: str, note: str, at: datetime
) -> list[Action]:
    state.flags.append(note)
    state._step(at, "flag", f"advisory flag for {stage.decided_by}: {note}")
    return [
        Notice(
            key,
            stage.name,
            "advisory",
            (stage.decided_by,),
            f"提示（供认定参考，不作决定）：{note}",
            f"For your consideration (the case layer does not decide): {note}",
            at,
            (("flags", [note]),),
        )
    ]


def _employer_owes(definition: CaseDefinition, state: CaseState, arrival: Arrival) -> list[Action]:
    """The payment record names what the employer owes: the employer is told the amount."""
    for stage in definition.stages:
        if stage.decision != arrival.type or stage.decided_by != arrival.source:
            continue
        amount = resolve_pointer(arrival.data, stage.employer_owes or "/absent")
        if isinstance(amount, str) and amount.strip("0.") != "":
            note = f"employer owes {amount} yuan by the {stage.title} record"
            state._step(arrival.at, "flag", note)
            return [
                Notice(
                    "employer-owes",
                    stage.name,
                    "completed",
                    (definition.employer_channel,),
                    f"根据待遇核定，用人单位应向职工支付{amount}元（工伤保险条例第三十三、三十六、三十七条）。",
                    f"By the benefit decision the employer owes the worker {amount} yuan.",
                    arrival.at,
                    (("amount_owed", amount),),
                )
            ]
    return []


# ---------------------------------------------------------------------- stages


def _enter(
    definition: CaseDefinition, state: CaseState, stage: Stage, at: datetime
) -> list[Action]:
    state.stage_started.setdefault(stage.name, utc_iso(at))
    actions: list[Action] = []
    for material in stage.materials:
        key = f"{stage.name}:{material.type}"
        if (
            material.type in state.needed[stage.name]
            and material.type not in state.received
            and key not in state.requested
        ):
            state.requested.append(key)
            actions.append(Request(stage.name, material, at))
    missing = state.missing(stage.name)
    if missing:
        actions.append(
            Notice(
                f"{stage.name}/waiting",
                stage.name,
                "waiting_for_materials",
                (stage.decided_by,),
                f"{stage.title}阶段开始，已向有关部门调取材料：{len(missing)}项。",
                f"Stage {stage.name} started; {len(missing)} material(s) requested.",
                at,
                (("missing_materials", missing),),
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
                        f"{stage.name}/ready",
                        stage.name,
                        "in_progress",
                        (stage.decided_by,),
                        f"{stage.title}所需材料已齐全，请作出决定。",
                        f"All materials for {stage.name} are in; please decide.",
                        at,
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


def _leave(
    definition: CaseDefinition, state: CaseState, arrival: Arrival, outcome: Outcome
) -> list[Action]:
    """A deciding body's document (or a party's statement) ends the simplified route."""
    relayed = [
        text for p in outcome.relay if isinstance(text := resolve_pointer(arrival.data, p), str)
    ]
    if outcome.handed_to is not None:
        state.handed_to = outcome.handed_to
        state.join(outcome.handed_to)
    return _close(definition, state, arrival.at, outcome.name, outcome.reason, outcome, relayed)


def _close(
    definition: CaseDefinition,
    state: CaseState,
    at: datetime,
    outcome: str,
    reason: str,
    rule: Outcome | None = None,
    relayed: list[str] | None = None,
) -> list[Action]:
    state.status = CLOSED
    state.outcome = outcome
    state.reason = reason
    state.closed_at = utc_iso(at)
    handed = rule is not None and rule.route == "handed_off"
    state._step(at, "closed", f"case closed: {outcome} ({reason})")
    stage = definition.stage(state.stage)
    recipients = [definition.applicant_channel, definition.employer_channel, stage.decided_by]
    extra: list[tuple[str, Any]] = []
    if handed and rule is not None and rule.handed_to is not None:
        recipients.append(rule.handed_to)
        extra.append(("handed_to", rule.handed_to))
    if relayed:
        extra.append(("relayed", relayed))
    status = "closed" if outcome == "completed" else "handed_off" if handed else "rejected"
    text_zh = {
        "closed": "案件已办结。",
        "handed_off": f"案件转入一般程序办理：{reason}",
        "rejected": f"案件终结：{reason}",
    }[status]
    text_en = {
        "closed": "The case is closed.",
        "handed_off": f"The case continues in the ordinary procedure: {reason}",
        "rejected": f"Case ended: {reason}",
    }[status]
    return [
        Closed(outcome, at - state.opened()),
        Notice(
            "closed",
            stage.name,
            status,
            tuple(dict.fromkeys(recipients)),
            text_zh,
            text_en,
            at,
            tuple(extra),
        ),
    ]


# ---------------------------------------------------------------------- clocks


def _promise(definition: CaseDefinition, state: CaseState, now: datetime) -> list[Action]:
    flag = state.deadline_flag(now, definition.warn_before)
    stage = definition.stage(state.stage)
    due = state.due()
    if flag == "overdue" and not state.breached:
        state.breached = True
        state.warned = True
        missing = ", ".join(short_type(t) for t in state.missing(stage.name, due))
        missing = missing or "the decision"
        state._step(due, "deadline", f"deadline passed; still waiting for {missing}")
        return [
            Breached(stage.name),
            Notice(
                "overdue",
                stage.name,
                "overdue",
                (stage.decided_by, definition.applicant_channel),
                f"案件已超过{definition.deadline.days}日办结时限，仍在等待：{missing}。",
                f"The case is past its {definition.deadline.days}-day deadline; "
                f"waiting for {missing}.",
                due,
            ),
        ]
    if flag == "near" and not state.warned:
        state.warned = True
        state._step(
            due - definition.warn_before, "deadline", f"deadline near: {state.deadline[:10]}"
        )
    return []


def _clock(
    definition: CaseDefinition, state: CaseState, clock: Clock, now: datetime
) -> list[Action]:
    """One clock of the law: warned, at its limit (extended where the law allows) and
    breached, each once; stopped by its stage's decision."""
    due = state.clock_due(clock)
    if due is None or clock.stage in state.decided_at:
        return []
    stage = definition.stage(clock.stage)
    seen = state.clocks.get(clock.name, "")
    end = due + clock.extension
    if now > end and seen != "breached":
        state.clocks[clock.name] = "breached"
        note = f"{clock.title} passed on {utc_iso(end)[:10]} ({clock.source})"
        state._step(end, "clock", note)
        return [
            ClockPassed(clock.name, "breached"),
            Notice(
                f"clock/{clock.name}",
                stage.name,
                "overdue",
                (stage.decided_by, definition.applicant_channel),
                f"{clock.title}已届满（{clock.source}）。",
                f"The time limit {clock.name} has passed ({clock.source}).",
                end,
            ),
        ]
    if clock.extension and now > due and seen in ("", "warned"):
        state.clocks[clock.name] = "extended"
        state._step(
            due, "clock", f"{clock.title} reached; the law allows until {utc_iso(end)[:10]}"
        )
        return []
    if now >= due - clock.warn_before and seen == "":
        state.clocks[clock.name] = "warned"
        state._step(due - clock.warn_before, "clock", f"{clock.title} ends {utc_iso(due)[:10]}")
        return [ClockPassed(clock.name, "warned")]
    return []
