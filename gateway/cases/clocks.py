"""The rules that move a case by the passing of time: the 30-day promise and the law's
clocks (``[[clocks]]`` of the definition). Pure functions, no I/O.

Each flag's time is the instant it fell due, not the time of the look, so two instances or a
late watch flag the same way and send the same notice (DESIGN section 10).
"""

from __future__ import annotations

from datetime import datetime

from gateway.cases.definition import CaseDefinition, Clock, short_type
from gateway.cases.state import CLOSED, Action, Breached, CaseState, ClockPassed, Notice
from gateway.clock import utc_iso


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
