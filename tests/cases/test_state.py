"""The case rules on their own: which materials, when a stage moves, refusals, deadlines."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.cases import CaseDefinition
from gateway.cases.clocks import check_deadline
from gateway.cases.rules import apply, open_case
from gateway.cases.state import (
    CLOSED,
    Arrival,
    Breached,
    CaseState,
    ClockPassed,
    Closed,
    Notice,
    Request,
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
    "payee_bank_account": "330784.zlb",
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
    state, actions = open_case(definition, "CASE-1", form_arrival)
    FORMS[id(state)] = form
    return state, actions


FORMS: dict[int, dict[str, Any]] = {}


def give(definition: CaseDefinition, state: CaseState, message: Arrival) -> list[Any]:
    """``apply`` with the case's own application form."""
    return apply(definition, state, message, FORMS[id(state)])


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
    assert requested(actions) == RECOGNITION_BASE | {
        "traffic_accident_determination",
        "outpatient_record",
    }


def test_violence_needs_the_police_certificate(definition: CaseDefinition) -> None:
    form = example("application_form", "violence_security_guard")
    assert form["hospitalised"] is False
    _, actions = opened(definition, form)
    assert requested(actions) == RECOGNITION_BASE | {"police_certificate", "outpatient_record"}


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
        actions += give(definition, state, arrival(name))
    return actions


def test_stage_moves_only_when_complete_and_decided(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    early = give(definition, state, arrival("recognition_decision", {"decision": "recognised"}))
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
    again = give(definition, state, arrival("witness_statement", source="330784.zlb"))
    assert not [a for a in again if isinstance(a, Notice)]


def test_material_from_another_department_does_not_count(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    give(definition, state, arrival("medical_diagnosis", source="330784.market"))
    assert doc_type("medical_diagnosis") in state.missing("recognition")
    assert "not from the issuing department" in state.steps[-1].note


def test_the_same_message_twice_changes_nothing(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    message = arrival("resident_id_info")
    give(definition, state, message)
    steps = len(state.steps)
    assert give(definition, state, message) == []
    assert len(state.steps) == steps


def test_full_path_to_payment(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    deliver_materials(definition, state, "recognition")
    give(definition, state, arrival("recognition_decision", {"decision": "recognised"}))
    deliver_materials(definition, state, "assessment")
    give(definition, state, arrival("assessment_conclusion", {"outcome": "graded"}))
    assert state.stage == "payment"
    deliver_materials(definition, state, "payment")
    paid_at = START + timedelta(days=9)
    actions = give(definition, state, arrival("benefit_payment_record", at=paid_at))
    assert (state.status, state.outcome) == (CLOSED, "completed")
    closed = [a for a in actions if isinstance(a, Closed)]
    assert closed == [Closed("completed", timedelta(days=9))]
    assert state.deadline_flag(paid_at, definition.warn_before) == "met"
    kinds = [s.kind for s in state.steps]
    assert kinds[0] == "opened" and kinds[-1] == "closed"
    assert kinds.count("stage") == 5  # three "materials complete", two stage changes
    assert state.handed_to is None


def test_a_decision_from_the_wrong_body_does_not_decide(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    deliver_materials(definition, state, "recognition")
    give(
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
    assert promise_only(check_deadline(definition, state, near)) == []
    assert state.warned and state.deadline_flag(near, definition.warn_before) == "near"
    late = START + timedelta(days=30, seconds=1)
    actions = promise_only(check_deadline(definition, state, late))
    assert Breached("recognition") in actions
    overdue = [a for a in actions if isinstance(a, Notice)]
    assert overdue[0].status == "overdue"
    assert "resident_id_info" in overdue[0].message_en
    assert overdue[0].at == START + timedelta(days=30)  # the instant it fell due, not "now"
    assert state.deadline_flag(late, definition.warn_before) == "overdue"
    again = [a for a in check_deadline(definition, state, late + timedelta(days=1))]
    assert not [a for a in again if isinstance(a, Breached)]  # once


def promise_only(actions: list[Any]) -> list[Any]:
    """The 30-day promise's actions, without the law's clocks."""
    return [
        a
        for a in actions
        if not isinstance(a, ClockPassed)
        and not (isinstance(a, Notice) and a.key.startswith("clock/"))
    ]


def test_state_round_trips_through_json(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    give(definition, state, arrival("resident_id_info"))
    assert CaseState.from_json(state.to_json()) == state


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


# ---------------------------------------------------------------------- the law's review


def traffic(applicant_liability: str, other_liability: str, other_injured: bool) -> dict[str, Any]:
    """The determination the commuting form cites (number and date), with liabilities."""
    data = example("traffic_accident_determination", "left_turn_full")
    applicant = "330784197911020867"
    for party in data["parties"]:
        if party["id_number"] == applicant:
            party["liability"], party["injured"] = applicant_liability, True
        else:
            party["liability"], party["injured"] = other_liability, other_injured
    return data


def test_main_liability_is_a_flag_for_the_centre_not_a_refusal(
    definition: CaseDefinition,
) -> None:
    for liability in ("main", "full"):
        state, _ = opened(definition, example("application_form", "commuting_ebike"))
        actions = give(
            definition,
            state,
            arrival("traffic_accident_determination", traffic(liability, "minor", False)),
        )
        assert state.status == "open" and state.outcome is None
        advice = [a for a in actions if isinstance(a, Notice) and a.status == "advisory"]
        assert [a.recipients for a in advice] == [("330784.hrss.recognition",)]
        assert "14(6)" in advice[0].message_en and state.flags == [advice[0].extra[0][1][0]]
        assert doc_type("traffic_accident_determination") in state.received


def test_another_drivers_liability_raises_no_flag(definition: CaseDefinition) -> None:
    """Reproduced: a worker with minor liability was refused because another injured driver
    bore main liability. The applicant is found by ID number."""
    state, _ = opened(definition, example("application_form", "commuting_ebike"))
    actions = give(
        definition,
        state,
        arrival("traffic_accident_determination", traffic("minor", "main", True)),
    )
    assert state.flags == [] and not [
        a for a in actions if isinstance(a, Notice) and a.status == "advisory"
    ]


def test_refusal_is_the_centres_decision_with_basis_and_remedy(
    definition: CaseDefinition,
) -> None:
    state, _ = opened(definition, example("application_form", "commuting_ebike"))
    give(
        definition,
        state,
        arrival("traffic_accident_determination", traffic("main", "minor", False)),
    )
    deliver_materials(definition, state, "recognition")
    refusal = example("recognition_decision", "commuting_not_recognised")
    actions = give(definition, state, arrival("recognition_decision", refusal))
    assert (state.status, state.outcome, state.handed_to) == (CLOSED, "not_recognised", None)
    notice = next(a for a in actions if isinstance(a, Notice) and a.key == "closed")
    assert notice.status == "rejected"
    assert set(notice.recipients) >= {"330784.zlb", "330784.zlb.enterprise"}
    relayed = dict(notice.extra)["relayed"]
    assert relayed == [refusal["legal_basis"], refusal["remedy_notice"]]


def test_a_material_about_another_person_or_accident_does_not_count(
    definition: CaseDefinition,
) -> None:
    state, _ = opened(definition, example("application_form", "commuting_ebike"))
    stranger = example("admission_discharge_record", "discharge_finger")  # another patient
    actions = give(definition, state, arrival("admission_discharge_record", stranger))
    assert state.material_status(doc_type("admission_discharge_record")) == "not_counted"
    told = [a for a in actions if isinstance(a, Notice)]
    assert [(n.status, n.recipients) for n in told] == [("not_counted", ("330784.health.h001",))]
    assert "person's ID number" in state.not_counted[doc_type("admission_discharge_record")][0]
    other_accident = example("traffic_accident_determination", "ebikes_equal")  # 01876, 09-13
    give(definition, state, arrival("traffic_accident_determination", other_accident))
    reasons = state.not_counted[doc_type("traffic_accident_determination")]
    assert "determination number" in reasons[0]
    assert doc_type("traffic_accident_determination") in state.missing("recognition")
    # the right ones, later, count
    give(
        definition,
        state,
        arrival(
            "admission_discharge_record", example("admission_discharge_record", "admission_radius")
        ),
    )
    assert state.material_status(doc_type("admission_discharge_record")) == "received"


def test_a_worker_not_admitted_needs_the_outpatient_record(definition: CaseDefinition) -> None:
    form = example("application_form", "workplace_press")
    form["hospitalised"] = False
    state, actions = opened(definition, form)
    assert requested(actions) == RECOGNITION_BASE | {"outpatient_record"}
    give(
        definition,
        state,
        arrival(
            "witness_statement", example("witness_statement", "coworker_press"), source="330784.zlb"
        ),
    )
    assert "supplementary material for recognition" in state.steps[-1].note


def test_every_outcome_ends_somewhere(definition: CaseDefinition) -> None:
    expected = {
        "not_graded": ("not_graded", None),
        "grade_5": ("graded_1_to_6", "330784.hrss.benefits"),
        "grade_10": ("completed", None),
    }
    for name, (outcome, handed_to) in expected.items():
        state, _ = opened(definition, example("application_form", "workplace_press"))
        deliver_materials(definition, state, "recognition")
        give(definition, state, arrival("recognition_decision", {"decision": "recognised"}))
        deliver_materials(definition, state, "assessment")
        conclusion = (
            {"outcome": "not_graded"}
            if name == "not_graded"
            else {"outcome": "graded", "disability_grade": int(name[6:])}
        )
        give(definition, state, arrival("assessment_conclusion", conclusion))
        if name == "grade_10":
            deliver_materials(definition, state, "payment")
            give(definition, state, arrival("benefit_payment_record"))
        assert (state.status, state.outcome, state.handed_to) == (CLOSED, outcome, handed_to), name


def test_article_15_3_and_article_62_leave_the_simplified_route(
    definition: CaseDefinition,
) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    deliver_materials(definition, state, "recognition")
    give(
        definition,
        state,
        arrival("recognition_decision", {"decision": "deemed", "deemed_under": "art15_3"}),
    )
    assert (state.outcome, state.handed_to) == ("deemed_art15_3", "330784.hrss.benefits")
    state, _ = opened(definition, example("application_form", "workplace_press"))
    enrolment = example("insurance_enrollment", "huarui_chen")
    enrolment["enrolled_date"] = "2026-07-12"  # the day after the injury
    actions = give(definition, state, arrival("insurance_enrollment", enrolment))
    assert (state.outcome, state.handed_to) == ("employer_not_enrolled", "330784.hrss.benefits")
    notice = next(a for a in actions if isinstance(a, Notice) and a.key == "closed")
    assert notice.status == "handed_off" and "art. 62" in notice.message_en


def test_the_employer_is_told_and_may_dispute(definition: CaseDefinition) -> None:
    state, actions = opened(definition, example("application_form", "commuting_ebike"))
    accepted = next(a for a in actions if isinstance(a, Notice) and a.key == "accepted")
    assert accepted.recipients == ("330784.zlb", "330784.zlb.enterprise")
    missing = dict(accepted.extra)["missing_materials"]
    assert doc_type("traffic_accident_determination") in missing
    assert doc_type("imaging_lab_report") in missing  # one list, every stage
    dispute = example("employer_statement", "dispute_commuting")
    stranger = example("employer_statement", "dispute_commuting")
    stranger["employer"] = example("employer_statement", "confirms_press")["employer"]
    give(definition, state, arrival("employer_statement", stranger, source="330784.zlb.enterprise"))
    assert state.status == "open"  # another company's word hands nothing off
    assert "employer's credit code" in state.not_counted[doc_type("employer_statement")][0]
    give(definition, state, arrival("employer_statement", dispute, source="330784.zlb.enterprise"))
    assert (state.outcome, state.handed_to) == ("employer_disputes", "330784.hrss.recognition")
    form = example("application_form", "workplace_press")
    form["employer_report"]["confirms_facts"] = False
    state, _ = opened(definition, form)
    assert (state.status, state.outcome) == (CLOSED, "employer_disputes")


def test_the_employer_is_told_what_it_owes(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "commuting_ebike"))
    for stage, decision, data in (
        ("recognition", "recognition_decision", {"decision": "recognised"}),
        ("assessment", "assessment_conclusion", {"outcome": "graded", "disability_grade": 9}),
    ):
        deliver_materials(definition, state, stage)
        give(definition, state, arrival(decision, data))
    deliver_materials(definition, state, "payment")
    record = example("benefit_payment_record", "grade_9_leaving_job")
    actions = give(definition, state, arrival("benefit_payment_record", record))
    owed = next(a for a in actions if isinstance(a, Notice) and a.key == "employer-owes")
    assert owed.recipients == ("330784.zlb.enterprise",)
    assert dict(owed.extra)["amount_owed"] == record["employer_amount"]


def test_the_laws_clocks_warn_and_breach_once(definition: CaseDefinition) -> None:
    state, _ = opened(definition, example("application_form", "workplace_press"))
    day = lambda n: START + timedelta(days=n)  # noqa: E731
    assert check_deadline(definition, state, day(12)) == [
        ClockPassed("recognition_clear_cut", "warned")
    ]
    breached = check_deadline(
        definition,
        state,
        day(
            15,
        )
        + timedelta(seconds=1),
    )
    assert ClockPassed("recognition_clear_cut", "breached") in breached
    notice = next(a for a in breached if isinstance(a, Notice))
    assert notice.at == day(15) and "art. 20 para. 2" in notice.message_en
    assert check_deadline(definition, state, day(16)) == []
    deliver_materials(definition, state, "recognition")
    give(definition, state, arrival("recognition_decision", {"decision": "recognised"}, at=day(16)))
    assert state.stage == "assessment"
    # assessment: 60 days from the stage's start, extendable by 30 (art. 25)
    state.status = "open"
    check_deadline(definition, state, day(16 + 61))
    assert state.clocks["assessment"] == "extended"
    late = check_deadline(definition, state, day(16 + 91))
    assert ClockPassed("assessment", "breached") in late
    assert "recognition" not in state.clocks  # stopped by the decision on day 16


def test_a_late_application_is_flagged_for_the_centre(definition: CaseDefinition) -> None:
    form = example("application_form", "workplace_press")
    form["submitted_by"] = "employer"
    form["injury"]["date"] = "2026-06-01"  # 53 days before the application
    form["hospital"]["first_visit_date"] = "2026-06-01"
    state, actions = opened(definition, form)
    flags = [a for a in actions if isinstance(a, Notice) and a.status == "advisory"]
    assert len(flags) == 1 and "art. 17 para. 1" in flags[0].message_en
    assert state.status == "open"


def test_what_the_rules_send_is_a_function_of_the_state(definition: CaseDefinition) -> None:
    """Two instances (or one after a crash) applying the same message to the same state send
    the same messages, whatever their clocks say."""
    form = example("application_form", "workplace_press")
    one, _ = opened(definition, form)
    two = CaseState.from_json(one.to_json())
    FORMS[id(two)] = form
    message = arrival("resident_id_info", at=START + timedelta(hours=3))
    assert give(definition, one, message) == give(definition, two, message)
    assert one == two
