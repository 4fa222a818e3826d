"""The rules that move a case by its documents: pure functions, no I/O.

Why pure: the same message may be seen twice (at-least-once, a second instance, a restart
catching up), so applying a message must be idempotent, and the rules must be testable
without a gateway. The case layer informs and times; it never decides (DESIGN section 10): a
decision arrives as the deciding body's document; these rules count materials (from their
issuer, about the applicant and the accident the form names), flag what the law gives a
body to weigh, and follow the definition's ``[[outcomes]]`` when a body's document ends the
simplified route.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.cases.definition import CaseDefinition, Material, Outcome, Stage, short_type
from gateway.cases.state import (
    CHINA,
    CLOSED,
    Action,
    Arrival,
    CaseState,
    Closed,
    Form,
    Notice,
    Request,
)
from gateway.clock import utc_iso
from gateway.routing.router import resolve_pointer


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
