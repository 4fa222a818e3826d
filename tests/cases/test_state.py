"""The case rules on their own: which materials, when a stage moves, refusals, deadlines."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from gateway.cases import CaseDefinition
from gateway.cases.state import (
    CLOSED,
    Arrival,
    Breached,
    CaseState,
    Closed,
    Notice,
    Request,
    apply,
    check_deadline,
    open_case,
)
from tests.cases.conftest import doc_type, example

START = datetime(2026, 7, 24, 1, 0, tzinfo=UTC)
_seq = itertools.count(1)

ISSUERS = {
    "resident_id_info": "330784.police.household",
    "insurance_enrollment": "330784.hrss.benefits",
    "labour_contract": "330784.hrss.benefits",
    "business_licence": "330784.market",
    "medical_diagnosis": "330784.health.h001",
    "admission_discharge_record": "330784.health.h001",
    "traffic_accident_determination": "330784.police.traffic",
    "police_certificate": "330784.police.station",
    "imaging_lab_report": "330784.health.h001",
    "payee_bank_account": "330700.nfra",
    "medical_expense_settlement": "330784.medinsurance",
    "recognition_decision": "330784.hrss.recognition",
    "assessment_conclusion": "330700.hrss.assessment",
    "benefit_payment_record": "330784.hrss.benefits",
}


def arrival(
    name: str,
    data: dict[str, Any] | None = None,
    *,
    source: str | None = None,
    at: datetime = START,
) -> Arrival:
    return Arrival(next(_seq), at, source or ISSUERS[name], doc_type(name), (), data or {})


def opened(definition: CaseDefinition, form: dict[str, Any]) -> tuple[CaseState, list[Any]]:
    form_arrival = Arrival(
        next(_seq),
        START,
        "330784.zlb",
        doc_type("application_form"),
        ("330784.hrss.recognition",),
        form,
    )
    return open_case(definition, "CASE-1", form_arrival)


def requested(actions: list[Any]) -> set[str]:
    return {a.material.short for a in actions if isinstance(a, Request)}


RECOGNITION_BASE = {
    "resident_id_info",
    "insurance_enrollment",
    "labour_contract",
    "business_licence",
    "medical_diagnosis",
}


def test_workplace_hospitalised_needs_the_hospital_stay(definition: CaseDefinition) -> None:
    form = example("application_form", "workplace_press")
    assert form["hospitalised"] is True
    state, actions = opened(definition, form)
    assert requested(actions) == RECOGNITION_BASE | {"admission_discharge_record"}
    assert state.stage == "recognition"
    assert state.deadline == "2026-08-23T01:00:00.000Z"


def test_commuting_needs_the_traffic_determination(definition: CaseDefinition) -> None:
    form = example("application_form", "commuting_ebike")
    form["hospitalised"] = False
    _, actions = opened(definition, form)
    assert requested(actions) == RECOGNITION_BASE | {"traffic_accident_determination"}


def test_violence_needs_the_police_certificate(definition: CaseDefinition) -> None:
    form = example("application_form", "violence_security_guard")
    assert form["hospitalised"] is False
    _, actions = opened(definition, form)
    assert requested(actions) == RECOGNITION_BASE | {"police_certificate"}


def test_payment_needs_the_settlement_only_after_a_hospital_stay(
    definition: CaseDefinition,
) -> None:
    stay, _ = opened(definition, example("application_form", "workplace_press"))
    home = example("application_form", "workplace_press")
    home["hospitalised"] = False
    no_stay, _ = opened(definition, home)
    assert doc_type("medical_expense_settlement") in stay.needed["payment"]
    assert doc_type("medical_expense_settlement") not in no_stay.needed["payment"]


def deliver_materials(definition: CaseDefinition, state: CaseState, stage: str) -> list[Any]:
    actions: list[Any] = []
    for material_type in state.missing(stage):
        name = material_type.split(".")[-2]
        actions += apply(definition, state, arrival(name))
    return actions


def test_stage_moves_only_when_complete_and_decided(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    early = apply(definition, state, arrival("recognition_decision", {"decision": "recognised"}))
    assert state.stage == "recognition"  # decided, but materials are missing
    assert not any(isinstance(a, Request) for a in early)
    actions = deliver_materials(definition, state, "recognition")
    assert state.stage == "assessment"
    assert requested(actions) == {"imaging_lab_report"}


def test_decider_is_told_once_when_materials_are_complete(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    actions = deliver_materials(definition, state, "recognition")
    ready = [a for a in actions if isinstance(a, Notice) and a.status == "in_progress"]
    assert [n.recipients for n in ready] == [("330784.hrss.recognition",)]
    again = apply(definition, state, arrival("witness_statement", source="330784.zlb"))
    assert not [a for a in again if isinstance(a, Notice)]


def test_material_from_another_department_does_not_count(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    apply(definition, state, arrival("medical_diagnosis", source="330784.market"))
    assert doc_type("medical_diagnosis") in state.missing("recognition")
    assert "not from the issuing department" in state.steps[-1].note


def test_the_same_message_twice_changes_nothing(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    message = arrival("resident_id_info")
    apply(definition, state, message)
    steps = len(state.steps)
    assert apply(definition, state, message) == []
    assert len(state.steps) == steps


def determination(liability: str) -> dict[str, Any]:
    data = example("traffic_accident_determination", "ebikes_equal")
    for party in data["parties"]:
        party["liability"] = liability if party["injured"] else "minor"
    return data


def commuting_case(definition: CaseDefinition) -> CaseState:
    state, _ = opened(definition, example("application_form", "commuting_ebike"))
    return state


def test_commuting_with_main_liability_is_refused_recognition(
    definition: CaseDefinition,
) -> None:
    for liability in ("main", "full"):
        state = commuting_case(definition)
        actions = apply(
            definition, state, arrival("traffic_accident_determination", determination(liability))
        )
        assert state.status == CLOSED
        assert state.outcome == "refused"
        assert "article 14(6)" in (state.reason or "")
        assert any(isinstance(a, Notice) and a.status == "rejected" for a in actions)


def test_commuting_with_minor_liability_proceeds(definition: CaseDefinition) -> None:
    for liability in ("minor", "equal", "none"):
        state = commuting_case(definition)
        apply(
            definition, state, arrival("traffic_accident_determination", determination(liability))
        )
        assert state.status == "open"
        deliver_materials(definition, state, "recognition")
        apply(definition, state, arrival("recognition_decision", {"decision": "recognised"}))
        assert state.stage == "assessment"


def test_only_the_injured_partys_liability_counts(definition: CaseDefinition) -> None:
    data = example("traffic_accident_determination", "ebikes_equal")
    for party in data["parties"]:
        party["liability"] = "minor" if party["injured"] else "main"
    state = commuting_case(definition)
    apply(definition, state, arrival("traffic_accident_determination", data))
    assert state.status == "open"


def test_not_recognised_closes_the_case(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    deliver_materials(definition, state, "recognition")
    apply(definition, state, arrival("recognition_decision", {"decision": "not_recognised"}))
    assert (state.status, state.outcome) == (CLOSED, "recognition_refused")


def test_full_path_to_payment(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    deliver_materials(definition, state, "recognition")
    apply(definition, state, arrival("recognition_decision", {"decision": "recognised"}))
    deliver_materials(definition, state, "assessment")
    apply(definition, state, arrival("assessment_conclusion", {"outcome": "graded"}))
    assert state.stage == "payment"
    deliver_materials(definition, state, "payment")
    paid_at = START + timedelta(days=9)
    actions = apply(definition, state, arrival("benefit_payment_record", at=paid_at))
    assert (state.status, state.outcome) == (CLOSED, "completed")
    closed = [a for a in actions if isinstance(a, Closed)]
    assert closed == [Closed("completed", timedelta(days=9))]
    assert state.deadline_flag(paid_at, definition.warn_before) == "met"
    kinds = [s.kind for s in state.steps]
    assert kinds[0] == "opened" and kinds[-1] == "closed"
    assert kinds.count("stage") == 5  # three "materials complete", two stage changes


def test_a_decision_from_the_wrong_body_does_not_decide(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    deliver_materials(definition, state, "recognition")
    apply(
        definition,
        state,
        arrival("recognition_decision", {"decision": "recognised"}, source="330784.hrss.benefits"),
    )
    assert state.stage == "recognition"


def test_deadline_near_then_breached_once(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    assert check_deadline(definition, state, START + timedelta(days=10)) == []
    assert state.deadline_flag(START + timedelta(days=10), definition.warn_before) == "ok"
    near = START + timedelta(days=26)
    assert check_deadline(definition, state, near) == []
    assert state.warned and state.deadline_flag(near, definition.warn_before) == "near"
    late = START + timedelta(days=30, seconds=1)
    actions = check_deadline(definition, state, late)
    assert Breached("recognition") in actions
    overdue = [a for a in actions if isinstance(a, Notice)]
    assert overdue[0].status == "overdue"
    assert "resident_id_info" in overdue[0].message_en
    assert state.deadline_flag(late, definition.warn_before) == "overdue"
    assert check_deadline(definition, state, late + timedelta(days=1)) == []  # once


def test_state_round_trips_through_json(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    apply(definition, state, arrival("resident_id_info"))
    assert CaseState.from_json(state.to_json()) == state
    # stored bytes unchanged by writing the dataclass directly (issue 15): as asdict wrote them
    assert state.steps and state.to_json() == orjson.dumps(dataclasses.asdict(state))


def test_state_holds_no_personal_data(definition: CaseDefinition) -> None:
    form = example("application_form", "workplace_press")
    state, _ = opened(definition, form)
    raw = state.to_json().decode()
    for value in (
        form["applicant"]["name"],
        form["applicant"]["id_number"],
        form["applicant"]["phone"],
    ):
        assert value not in raw
