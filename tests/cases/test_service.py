"""The case layer in a running gateway, over real HTTP, on both stores.

Departments are played by clients that answer each material request with the example
document of the requested type, under the case id, as a department's adapter would.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.link.client import SubmitError
from gateway.clock import ManualClock
from gateway.messages import SignedMessage, build_event, sign_message
from gateway.testing import GatewayHandle, running_gateway
from tests.cases.conftest import doc_type, example

START = datetime(2026, 7, 24, 1, 0, tzinfo=UTC)
PRESS = example("application_form", "workplace_press")
CASE = "GS-330784-2026-000731"  # from the form's application number ZLB-GS-20260715-00731
#: the examples that belong to the press case (the application workplace_press): one
#: person, one accident, one employer, so every material passes the cross-checks
EXAMPLE_FILE = {
    "resident_id_info": "chen_zhiqiang",
    "insurance_enrollment": "huarui_chen",
    "labour_contract": "huarui_fixed_term",
    "business_licence": "huarui",
    "medical_diagnosis": "finger_fracture",
    "admission_discharge_record": "discharge_finger",
    "outpatient_record": "emergency_finger",
    "imaging_lab_report": "xray_hand",
    "payee_bank_account": "chen_abc_debit",
    "medical_expense_settlement": "inpatient_finger",
    "recognition_decision": "press_recognised",
    "assessment_conclusion": "grade_10",
    "benefit_payment_record": "grade_10_disability_only",
}
#: the commuting case's (commuting_ebike): the determination its form cites
COMMUTING_FILE = {
    "resident_id_info": "li_xiuying",
    "insurance_enrollment": "yongjin_li",
    "labour_contract": "yongjin_open_ended",
    "business_licence": "yongjin",
    "medical_diagnosis": "radius_fracture",
    "admission_discharge_record": "admission_radius",
    "imaging_lab_report": "ct_wrist",
    "traffic_accident_determination": "left_turn_full",
    "payee_bank_account": "li_social_security_card",
    "recognition_decision": "commuting_recognised",
    "assessment_conclusion": "grade_9",
    "benefit_payment_record": "grade_9_leaving_job",
}
COMMUTING_CASE = "GS-330784-2026-000588"  # ZLB-GS-20260605-00588
ISSUERS = (
    "330784.zlb",
    "330784.police.household",
    "330784.police.traffic",
    "330784.police.station",
    "330784.hrss.benefits",
    "330784.market",
    "330784.health.h001",
    "330784.medinsurance",
)


@pytest.fixture
async def gateway(tmp_path: Path, database: str | None) -> AsyncIterator[GatewayHandle]:
    async with running_gateway(
        tmp_path, clock=ManualClock(START), database=database, run_dispatcher=False
    ) as handle:
        yield handle


def any_example(name: str, files: dict[str, str] = EXAMPLE_FILE) -> dict[str, Any]:
    if name in files:
        return example(name, files[name])
    folder = Path(__file__).resolve().parents[2] / "schemas" / "examples" / name / "valid"
    first = sorted(folder.glob("*.json"))[0].stem
    return example(name, first)


async def drain(gw: GatewayHandle, dept: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Read and acknowledge a department's inbox: (type, subject, document) each."""
    client = gw.client(dept)
    page = await client.inbox()
    found = []
    for item in page["messages"]:
        event = SignedMessage.parse(orjson.dumps(item["message"])).event
        found.append((event.type, event.subject, event.data))
    if page["messages"]:
        await client.ack([m["sequence"] for m in page["messages"]])
    return found


async def answer_requests(
    gw: GatewayHandle,
    overrides: dict[str, dict[str, Any]] | None = None,
    silent: frozenset[str] = frozenset(),
    files: dict[str, str] = EXAMPLE_FILE,
) -> list[str]:
    """Every issuer answers what it was asked for, under the case it was asked for (the
    document's case_id agrees with the subject); returns the types sent."""
    sent = []
    for dept in ISSUERS:
        if dept in silent:
            continue
        for kind, subject, data in await drain(gw, dept):
            if kind != doc_type("material_request"):
                continue
            name = data["requested_type"].split(".")[-2]
            document = (overrides or {}).get(name) or any_example(name, files)
            document["case_id"] = subject
            await gw.client(dept).submit(data["requested_type"], document, subject=subject)
            sent.append(name)
    return sent


async def decide(
    gw: GatewayHandle, dept: str, name: str, data: dict[str, Any] | None = None, case: str = CASE
) -> None:
    document = data or any_example(name)
    document["case_id"] = case
    await gw.client(dept).submit(doc_type(name), document, subject=case)


async def read_case(gw: GatewayHandle, dept: str, case: str = CASE) -> tuple[int, Any]:
    client = gw.client(dept)
    async with gw.session.get(
        f"{gw.base_url}/v1/cases/{case}", headers={"Authorization": f"Bearer {client.token()}"}
    ) as response:
        return response.status, await response.json(content_type=None)


def sample(gw: GatewayHandle, name: str, **labels: str) -> float:
    value = gw.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_a_case_runs_from_one_form_to_payment(gateway: GatewayHandle) -> None:
    gw = gateway
    clock = gw.clock
    assert isinstance(clock, ManualClock)
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    assert sample(gw, "zjx_cases_open", stage="recognition") == 1

    requests = [
        d
        for k, s, d in await drain(gw, "330784.police.household")
        if k == doc_type("material_request")
    ]
    assert len(requests) == 1 and requests[0]["case_id"] == CASE
    assert requests[0]["requested_type"] == doc_type("resident_id_info")
    await gw.client("330784.police.household").submit(
        doc_type("resident_id_info"), any_example("resident_id_info"), subject=CASE
    )
    sent = await answer_requests(gw)
    assert set(sent) == {
        "insurance_enrollment",
        "labour_contract",
        "business_licence",
        "medical_diagnosis",
        "admission_discharge_record",
    }
    notices = [
        d for k, _, d in await drain(gw, "330784.hrss.recognition") if k == doc_type("case_notice")
    ]
    assert [n["status"] for n in notices] == ["waiting_for_materials", "in_progress"]

    await decide(gw, "330784.hrss.recognition", "recognition_decision")
    assert (await read_case(gw, "330784.zlb"))[1]["stage"] == "assessment"
    assert await answer_requests(gw) == ["imaging_lab_report"]
    clock.advance(timedelta(days=8))
    await decide(gw, "330700.hrss.assessment", "assessment_conclusion")
    assert sorted(await answer_requests(gw)) == ["medical_expense_settlement", "payee_bank_account"]
    clock.advance(timedelta(days=1))
    await decide(gw, "330784.hrss.benefits", "benefit_payment_record")

    status, case = await read_case(gw, "330784.zlb")
    assert status == 200
    assert (case["status"], case["outcome"], case["deadline_flag"]) == (
        "closed",
        "completed",
        "met",
    )
    assert case["timeline"][-1]["elapsed_days"] == 9.0
    assert all(not s["missing"] and s["decision_received"] for s in case["stages"])
    assert sample(gw, "zjx_case_duration_seconds_count") == 1
    assert sample(gw, "zjx_case_duration_seconds_sum") == 9 * 86400
    assert sample(gw, "zjx_cases_open", stage="payment") == 0
    closing = [d for k, _, d in await drain(gw, "330784.zlb") if k == doc_type("case_notice")]
    assert closing[-1]["status"] == "closed"
    actions = [r.event.action for r in await gw.store.audit_entries(0, 1000)]
    assert actions.count("case.opened") == 1 and actions.count("case.closed") == 1


async def test_only_the_departments_of_a_case_may_read_it(gateway: GatewayHandle) -> None:
    gw = gateway
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    for party in ("330784.zlb", "330784.hrss.recognition", "330784.police.household"):
        assert (await read_case(gw, party))[0] == 200, party
    status, problem = await read_case(gw, "330784.police.traffic")  # not asked: a press injury
    assert status == 404 and problem["type"].endswith("case-not-found")
    assert (await read_case(gw, "330784.zlb", "NO-SUCH-CASE"))[0] == 404
    async with gw.session.get(f"{gw.base_url}/v1/cases/{CASE}") as response:
        assert response.status == 401


async def test_a_late_case_is_flagged_and_counted_once(gateway: GatewayHandle) -> None:
    gw = gateway
    clock = gw.clock
    assert isinstance(clock, ManualClock) and gw.cases is not None
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    await answer_requests(gw, silent=frozenset({"330784.market"}))  # never answers
    clock.advance(timedelta(days=26))
    await gw.cases.check_deadlines()
    assert (await read_case(gw, "330784.zlb"))[1]["deadline_flag"] == "near"
    # the deadline watch counts the flags for monitoring (a scrape reads no case)
    assert sample(gw, "zjx_cases_deadline", flag="near") == 1
    assert sample(gw, "zjx_cases_deadline", flag="overdue") == 0
    clock.advance(timedelta(days=5))
    await gw.cases.check_deadlines()
    await gw.cases.check_deadlines()
    case = (await read_case(gw, "330784.zlb"))[1]
    assert case["deadline_flag"] == "overdue"
    assert sample(gw, "zjx_cases_deadline", flag="near") == 0
    assert sample(gw, "zjx_cases_deadline", flag="overdue") == 1
    assert case["stages"][0]["missing"] == [doc_type("business_licence")]
    assert sample(gw, "zjx_case_deadline_breaches_total", stage="recognition") == 1
    # the law's clocks beside the promise: 15 days for a clear-cut recognition (art. 20)
    clear_cut = {"clock": "recognition_clear_cut"}
    # the first look came after day 15: breached at once, no warning after the fact
    assert sample(gw, "zjx_case_clock_events_total", **clear_cut, event="warned") == 0
    assert sample(gw, "zjx_case_clock_events_total", **clear_cut, event="breached") == 1
    assert sample(gw, "zjx_case_clock_events_total", clock="recognition", event="warned") == 0
    clocks = {c["name"]: c for c in case["clocks"]}
    assert clocks["recognition_clear_cut"]["event"] == "breached"
    assert clocks["assessment"]["due"] is None  # its stage has not started
    overdue = [
        d
        for k, _, d in await drain(gw, "330784.zlb")
        if k == doc_type("case_notice") and d["notice_id"].endswith("-overdue")
    ]
    assert len(overdue) == 1, case["timeline"][-1]
    assert "business_licence" in overdue[0]["message_en"]


def determination(applicant: str, other: str, other_injured: bool) -> dict[str, Any]:
    """The determination the commuting form cites, with the liabilities given."""
    data = example("traffic_accident_determination", "left_turn_full")
    for party in data["parties"]:
        if party["id_number"] == "330784197911020867":  # the applicant, by ID number
            party["liability"], party["injured"] = applicant, True
        else:
            party["liability"], party["injured"] = other, other_injured
    return data


async def notices(gw: GatewayHandle, dept: str, status: str) -> list[dict[str, Any]]:
    return [
        d
        for k, _, d in await drain(gw, dept)
        if k == doc_type("case_notice") and d["status"] == status
    ]


@pytest.mark.parametrize(
    ("applicant", "other", "other_injured", "flagged"),
    [("main", "minor", False, True), ("minor", "main", True, False), ("full", "none", False, True)],
)
async def test_commuting_liability_is_advice_and_the_refusal_the_centres(
    gateway: GatewayHandle, applicant: str, other: str, other_injured: bool, flagged: bool
) -> None:
    """Reproduced: main liability closed the case as refused by the gateway, and another
    injured driver's liability counted as the worker's. Now the gateway flags the applicant's
    own liability to the recognition centre, which decides with a written decision."""
    gw = gateway
    await gw.client("330784.zlb").submit(
        doc_type("application_form"), example("application_form", "commuting_ebike")
    )
    traffic = determination(applicant, other, other_injured)
    await answer_requests(gw, {"traffic_accident_determination": traffic}, files=COMMUTING_FILE)
    status, case = await read_case(gw, "330784.zlb", COMMUTING_CASE)
    assert status == 200 and case["status"] == "open" and case["stages"][0]["missing"] == []
    advice = await notices(gw, "330784.hrss.recognition", "advisory")
    assert len(advice) == (1 if flagged else 0) and len(case["flags"]) == len(advice)
    if not flagged:
        return
    assert "14(6)" in advice[0]["flags"][0]
    refusal = example("recognition_decision", "commuting_not_recognised")
    await decide(gw, "330784.hrss.recognition", "recognition_decision", refusal, COMMUTING_CASE)
    case = (await read_case(gw, "330784.zlb", COMMUTING_CASE))[1]
    assert (case["status"], case["outcome"]) == ("closed", "not_recognised")
    for party in ("330784.zlb", "330784.zlb.enterprise"):
        told = await notices(gw, party, "rejected")
        assert [n["relayed"] for n in told] == [[refusal["legal_basis"], refusal["remedy_notice"]]]


async def test_subject_and_case_id_must_agree(gateway: GatewayHandle) -> None:
    """Reproduced: a diagnosis whose data.case_id names another case counted for this one."""
    gw = gateway
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    diagnosis = any_example("medical_diagnosis")
    diagnosis["case_id"] = "GS-330784-2026-000588"
    body = gw.client("330784.health.h001").sign(
        doc_type("medical_diagnosis"), diagnosis, subject=CASE
    )
    async with gw.session.post(
        f"{gw.base_url}/v1/messages", data=body, headers={"content-type": "application/jose+json"}
    ) as response:
        problem = await response.json(content_type=None)
        assert response.status == 422
    assert problem["type"].endswith("case-id-mismatch")
    assert {e["pointer"] for e in problem["errors"]} == {"/subject", "/data/case_id"}
    assert sample(gw, "zjx_messages_rejected_total", reason="case-id-mismatch") == 1
    case = (await read_case(gw, "330784.zlb"))[1]
    assert not [s for s in case["timeline"] if s["type"] == doc_type("medical_diagnosis")]


async def test_a_material_about_another_person_is_kept_not_counted_and_its_issuer_told(
    gateway: GatewayHandle,
) -> None:
    """Reproduced: a discharge record about another person counted as the applicant's."""
    gw = gateway
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    stranger = example("admission_discharge_record", "admission_radius")  # another patient
    await answer_requests(gw, {"admission_discharge_record": stranger})
    case = (await read_case(gw, "330784.zlb"))[1]
    status = {m["type"]: m for m in case["stages"][0]["material_status"]}
    record = status[doc_type("admission_discharge_record")]
    assert record["status"] == "not_counted" and "person's ID number" in record["not_counted"][0]
    assert status[doc_type("medical_diagnosis")]["status"] == "received"
    assert case["stages"][0]["missing"] == [doc_type("admission_discharge_record")]
    told = await notices(gw, "330784.health.h001", "not_counted")
    assert len(told) == 1 and "/patient/id_number" in told[0]["message_en"]
    assert "330784197911020867" not in str(told) + str(case)  # the other person's ID number
    token = (gw.data_dir / "admin-token").read_text().strip()
    async with gw.session.get(
        f"{gw.base_url}/admin/v1/cases", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        listed = (await response.json())["cases"][0]["materials"]
    assert {m["status"] for m in listed} == {"received", "not_counted"}


async def test_the_employer_is_told_and_its_dispute_leaves_the_simplified_route(
    gateway: GatewayHandle,
) -> None:
    gw = gateway
    await gw.client("330784.zlb").submit(
        doc_type("application_form"), example("application_form", "commuting_ebike")
    )
    employer = "330784.zlb.enterprise"
    accepted = await notices(gw, employer, "opened")
    assert (
        len(accepted) == 1
        and doc_type("traffic_accident_determination") in accepted[0]["missing_materials"]
    )
    assert (await read_case(gw, employer, COMMUTING_CASE))[0] == 200  # a party
    dispute = example("employer_statement", "dispute_commuting")
    await gw.client(employer).submit(
        doc_type("employer_statement"), dispute, subject=COMMUTING_CASE
    )
    case = (await read_case(gw, "330784.zlb", COMMUTING_CASE))[1]
    assert (case["status"], case["outcome"], case["handed_to"]) == (
        "closed",
        "employer_disputes",
        "330784.hrss.recognition",
    )
    handed = await notices(gw, "330784.hrss.recognition", "handed_off")
    assert [n["handed_to"] for n in handed] == ["330784.hrss.recognition"]
    assert "art. 19" in handed[0]["message_en"]


@pytest.mark.parametrize(
    ("grade", "outcome", "handed_to"),
    [(None, "not_graded", None), (5, "graded_1_to_6", "330784.hrss.benefits")],
)
async def test_an_assessment_outcome_ends_the_case(
    gateway: GatewayHandle, grade: int | None, outcome: str, handed_to: str | None
) -> None:
    """Reproduced: "not graded" waited for a payment record that never came and went overdue
    on day 30; grades 1-6 closed as completed after the lump sum."""
    gw = gateway
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    await answer_requests(gw)
    await decide(gw, "330784.hrss.recognition", "recognition_decision")
    await answer_requests(gw)
    conclusion = example("assessment_conclusion", "grade_10")
    if grade is None:
        conclusion = example("assessment_conclusion", "not_graded")
        conclusion["worker"] = example("assessment_conclusion", "grade_10")["worker"]
    else:
        conclusion["disability_grade"] = grade
    await decide(gw, "330700.hrss.assessment", "assessment_conclusion", conclusion)
    case = (await read_case(gw, "330784.zlb"))[1]
    assert (case["status"], case["outcome"], case["handed_to"]) == ("closed", outcome, handed_to)
    assert case["stage"] == "assessment" and case["deadline_flag"] == "met"


async def test_statistics_give_the_reports_figures(gateway: GatewayHandle) -> None:
    gw = gateway
    clock = gw.clock
    assert isinstance(clock, ManualClock)
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    await answer_requests(gw)
    await decide(gw, "330784.hrss.recognition", "recognition_decision")
    await answer_requests(gw)
    clock.advance(timedelta(days=8))
    await decide(gw, "330700.hrss.assessment", "assessment_conclusion")
    await answer_requests(gw)
    clock.advance(timedelta(days=1))
    await decide(gw, "330784.hrss.benefits", "benefit_payment_record")
    token = (gw.data_dir / "admin-token").read_text().strip()
    async with gw.session.get(
        f"{gw.base_url}/admin/v1/cases/statistics", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200
        stats = await response.json()
    assert stats["groups"] == [
        {
            "year": 2026,
            "outcome": "completed",
            "count": 1,
            "median_days": 9.0,
            "p90_days": 9.0,
            "baseline_days": 180.0,
            "days_saved": 171.0,
        }
    ]
    assert (stats["closed"], stats["days_saved"]) == (1, 171.0)
    async with gw.session.get(f"{gw.base_url}/admin/v1/cases/statistics") as anonymous:
        assert anonymous.status == 401


async def test_a_case_survives_a_restart(tmp_path: Path, database: str | None) -> None:
    clock = ManualClock(START)
    async with running_gateway(
        tmp_path, clock=clock, database=database, run_dispatcher=False
    ) as gw:
        await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    async with running_gateway(
        tmp_path, clock=clock, database=database, run_dispatcher=False
    ) as gw:
        await answer_requests(gw)
        status, case = await read_case(gw, "330784.hrss.recognition")
        assert status == 200 and case["stages"][0]["missing"] == []
        assert sample(gw, "zjx_cases_open", stage="recognition") == 1


async def test_resubmitted_form_opens_no_second_case(gateway: GatewayHandle) -> None:
    gw = gateway
    zlb = gw.client("330784.zlb")
    await zlb.submit(doc_type("application_form"), PRESS)
    await zlb.submit(doc_type("application_form"), PRESS, event_id="second-try")
    case = (await read_case(gw, "330784.zlb"))[1]
    assert [s["kind"] for s in case["timeline"]].count("opened") == 1
    assert sample(gw, "zjx_cases_open", stage="recognition") == 1


async def test_catch_up_applies_a_message_the_submit_path_missed(
    tmp_path: Path, database: str | None
) -> None:
    """A crash between the commit and the case update: the message is stored, the case is
    not. After the restart the catch-up opens the case, and only once."""
    clock = ManualClock(START)
    async with running_gateway(
        tmp_path, clock=clock, database=database, run_dispatcher=False
    ) as gw:
        body = gw.client("330784.zlb").sign(doc_type("application_form"), PRESS)
        accepted = await gw.intake.acceptor.accept(body)  # as if the process died here
        assert accepted.created
        assert (await read_case(gw, "330784.zlb"))[0] == 404
    async with running_gateway(
        tmp_path, clock=clock, database=database, run_dispatcher=False
    ) as gw:
        assert gw.cases is not None
        assert await gw.cases.catch_up() == 1
        assert await gw.cases.catch_up() == 0
        status, case = await read_case(gw, "330784.zlb")
        assert status == 200 and case["stage"] == "recognition"
        requests = [k for k, _, _ in await drain(gw, "330784.market")]
        assert requests == [doc_type("material_request")]


async def test_a_failed_case_update_is_counted_and_applied_later(
    gateway: GatewayHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = gateway
    store = gw.store
    real_save = store.save_case
    failures = [RuntimeError("database went away")]

    async def flaky_save(*args: Any) -> bool:
        if failures:
            raise failures.pop()
        return bool(await real_save(*args))

    monkeypatch.setattr(store, "save_case", flaky_save)
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)  # still 202
    assert sample(gw, "zjx_case_errors_total") == 1
    assert (await read_case(gw, "330784.zlb"))[0] == 404
    assert gw.cases is not None
    clock = gw.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=2))  # the requests were sent before the save failed
    assert await gw.cases.catch_up() == 1
    status, case = await read_case(gw, "330784.zlb")
    assert status == 200
    # Reproduced: the re-sent requests had a new time and were refused as id-reused. Now the
    # re-send is the same message: its first receipt, and no refusal in the timeline.
    assert not [s for s in case["timeline"] if "refused" in s["note"]]
    sent = [s for s in case["timeline"] if s["kind"] == "request"]
    assert len(sent) == 6 and all(s["at"] == case["opened_at"] for s in sent)
    requests = [
        d for k, _, d in await drain(gw, "330784.market") if k == doc_type("material_request")
    ]
    assert len(requests) == 1  # delivered once
    assert await gw.cases.catch_up() == 0  # the rest was applied on the submit path


async def test_two_instances_applying_to_one_case_lose_no_step(tmp_path: Path, pg_url: str) -> None:
    """Two gateways on one PostgreSQL database take materials of the same case at the same
    time: the version check makes one of each clashing pair load again, so every document
    ends up in the timeline once."""
    clock = ManualClock(START)
    async with (
        running_gateway(tmp_path, clock=clock, database=pg_url, run_dispatcher=False) as one,
        running_gateway(tmp_path, clock=clock, database=pg_url, run_dispatcher=False) as two,
    ):
        await one.client("330784.zlb").submit(doc_type("application_form"), PRESS)
        sends = [
            gw.client("330784.health.h001").submit(
                doc_type("outpatient_record"), any_example("outpatient_record"), subject=CASE
            )
            for gw in (one, two) * 6
        ]
        await asyncio.gather(*sends)
        case = (await read_case(two, "330784.zlb"))[1]
    documents = [s for s in case["timeline"] if s["type"] == doc_type("outpatient_record")]
    assert len(documents) == 12
    assert len({s["sequence"] for s in documents}) == 12


async def test_administrators_see_open_cases_by_deadline(gateway: GatewayHandle) -> None:
    gw = gateway
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    token = (gw.data_dir / "admin-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    async with gw.session.get(f"{gw.base_url}/admin/v1/cases", headers=headers) as response:
        assert response.status == 200
        listed = (await response.json())["cases"]
    assert [c["case_id"] for c in listed] == [CASE]
    assert listed[0]["deadline_flag"] == "ok" and len(listed[0]["missing"]) == 6
    async with gw.session.get(f"{gw.base_url}/admin/v1/cases/{CASE}", headers=headers) as one:
        assert one.status == 200 and (await one.json())["case_id"] == CASE
    async with gw.session.get(f"{gw.base_url}/admin/v1/cases/NONE", headers=headers) as none:
        assert none.status == 404
    async with gw.session.get(f"{gw.base_url}/admin/v1/cases") as anonymous:
        assert anonymous.status == 401


@pytest.mark.parametrize("rule", ["art62", "art15_3"])
async def test_enrolment_after_the_injury_and_art_15_3_leave_the_simplified_route(
    gateway: GatewayHandle, rule: str
) -> None:
    """Reproduced: an employer that never enrolled its worker was not noticed (art. 62), and a
    recognition under art. 15(3) went on to the disability subsidy (art. 15 para. 2)."""
    gw = gateway
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    enrolment = any_example("insurance_enrollment")
    if rule == "art62":
        enrolment["enrolled_date"] = "2026-07-14"  # three days after the injury
    await answer_requests(gw, {"insurance_enrollment": enrolment})
    if rule == "art15_3":
        decision = any_example("recognition_decision")
        decision.update(decision="deemed", deemed_under="art15_3")
        await decide(gw, "330784.hrss.recognition", "recognition_decision", decision)
    case = (await read_case(gw, "330784.zlb"))[1]
    outcome = "employer_not_enrolled" if rule == "art62" else "deemed_art15_3"
    assert (case["status"], case["outcome"], case["handed_to"]) == (
        "closed",
        outcome,
        "330784.hrss.benefits",
    )
    handed = await notices(gw, "330784.hrss.benefits", "handed_off")
    assert len(handed) == 1 and handed[0]["handed_to"] == "330784.hrss.benefits"
    assert not [
        k
        for k, _, d in await drain(gw, "330700.hrss.assessment")
        if k == doc_type("material_request")
    ]


async def test_the_fund_pays_its_items_and_the_employer_is_told_its_own(
    gateway: GatewayHandle,
) -> None:
    """Reproduced: the commuting case's payment record put the employer's employment
    subsidy in the fund's payment and total."""
    gw = gateway
    form = example("application_form", "commuting_ebike")
    await gw.client("330784.zlb").submit(doc_type("application_form"), form)
    case_id = COMMUTING_CASE
    settlement = any_example("medical_expense_settlement")
    settlement["patient"] = any_example("admission_discharge_record", COMMUTING_FILE)["patient"]
    await answer_requests(gw, files=COMMUTING_FILE)
    await decide(
        gw,
        "330784.hrss.recognition",
        "recognition_decision",
        any_example("recognition_decision", COMMUTING_FILE),
        case_id,
    )
    await answer_requests(gw, files=COMMUTING_FILE)
    await decide(
        gw,
        "330700.hrss.assessment",
        "assessment_conclusion",
        any_example("assessment_conclusion", COMMUTING_FILE),
        case_id,
    )
    await answer_requests(gw, {"medical_expense_settlement": settlement}, files=COMMUTING_FILE)
    status = (await read_case(gw, "330784.zlb", case_id))[1]["stages"][2]["material_status"]
    assert {m["status"] for m in status} == {"received"}, status
    record = any_example("benefit_payment_record", COMMUTING_FILE)
    await decide(gw, "330784.hrss.benefits", "benefit_payment_record", record, case_id)
    case = (await read_case(gw, "330784.zlb", case_id))[1]
    assert (case["status"], case["outcome"]) == ("closed", "completed")
    owed = await notices(gw, "330784.zlb.enterprise", "completed")
    assert [n["amount_owed"] for n in owed] == ["40000.00"] == [record["employer_amount"]]
    assert record["total_amount"] == "67084.50"  # 37084.50 + 30000.00: the fund's items only


async def test_a_determination_of_another_accident_does_not_count(gateway: GatewayHandle) -> None:
    """Reproduced: a traffic determination of another accident (number and date differ from
    the form's reference) counted as the applicant's material."""
    gw = gateway
    await gw.client("330784.zlb").submit(
        doc_type("application_form"), example("application_form", "commuting_ebike")
    )
    other = example("traffic_accident_determination", "ebikes_equal")  # 01876 of 14 September
    await answer_requests(gw, {"traffic_accident_determination": other}, files=COMMUTING_FILE)
    case = (await read_case(gw, "330784.zlb", COMMUTING_CASE))[1]
    assert case["stages"][0]["missing"] == [doc_type("traffic_accident_determination")]
    status = {m["type"]: m for m in case["stages"][0]["material_status"]}
    reasons = status[doc_type("traffic_accident_determination")]["not_counted"]
    assert len(reasons) == 1 and "determination number" in reasons[0]
    assert len(await notices(gw, "330784.police.traffic", "not_counted")) == 1


async def test_a_worker_not_admitted_is_assessed_on_the_outpatient_record(
    gateway: GatewayHandle,
) -> None:
    """Reproduced: the outpatient record and witness statements were routed but counted by no
    stage, so a worker not admitted reached assessment on a diagnosis and imaging only."""
    gw = gateway
    form = example("application_form", "workplace_press")
    form["hospitalised"] = False
    await gw.client("330784.zlb").submit(doc_type("application_form"), form)
    witness = example("witness_statement", "coworker_press")
    await gw.client("330784.zlb").submit(doc_type("witness_statement"), witness, subject=CASE)
    sent = await answer_requests(gw, silent=frozenset({"330784.health.h001"}))
    assert "outpatient_record" not in sent
    case = (await read_case(gw, "330784.zlb"))[1]
    assert case["stage"] == "recognition"
    assert doc_type("outpatient_record") in case["stages"][0]["missing"]
    assert any(s["note"] == "supplementary material for recognition" for s in case["timeline"])
    assert sorted(await answer_requests(gw)) == ["medical_diagnosis", "outpatient_record"]
    case = (await read_case(gw, "330784.zlb"))[1]
    assert case["stages"][0]["missing"] == [] and case["stage"] == "recognition"


async def test_a_case_id_without_a_subject_is_refused_and_a_subject_alone_counts(
    gateway: GatewayHandle,
) -> None:
    """Review 13, a careless department: a diagnosis naming the case in ``data.case_id`` but
    sent without the event's ``subject`` was accepted (201) and never reached the case, so
    the hospital believed it delivered and the case waited. It is refused with both pointers;
    a diagnosis under the subject with no ``case_id`` in its body is the case's material."""
    gw = gateway
    await gw.client("330784.zlb").submit(doc_type("application_form"), PRESS)
    diagnosis = any_example("medical_diagnosis")
    diagnosis["case_id"] = CASE
    hospital = gw.client("330784.health.h001")
    event = build_event(
        source=hospital.department,
        type=doc_type("medical_diagnosis"),
        data=diagnosis,
        time=gw.clock.now(),
    )
    body = sign_message(event, hospital.key)
    async with gw.session.post(
        f"{gw.base_url}/v1/messages", data=body, headers={"content-type": "application/jose+json"}
    ) as response:
        problem = await response.json(content_type=None)
        assert response.status == 422
    assert problem["type"].endswith("case-id-mismatch")
    assert {e["pointer"] for e in problem["errors"]} == {"/subject", "/data/case_id"}
    assert sample(gw, "zjx_messages_rejected_total", reason="case-id-mismatch") == 1
    del diagnosis["case_id"]
    await gw.client("330784.health.h001").submit(
        doc_type("medical_diagnosis"), diagnosis, subject=CASE
    )
    case = (await read_case(gw, "330784.zlb"))[1]
    status = {m["type"]: m["status"] for m in case["stages"][0]["material_status"]}
    assert status[doc_type("medical_diagnosis")] == "received"


async def test_a_lower_case_check_character_is_refused_at_the_door(
    gateway: GatewayHandle,
) -> None:
    """Review 13, a careless hospital: the applicant's ID number ends in X (GB 11643); the
    same number with a lower-case x, or with a space, is refused by pointer (never quoted)
    and reaches no case; with the X it counts."""
    gw = gateway
    form = copy.deepcopy(PRESS)
    form["applicant"]["id_number"] = "33078419860314001X"
    await gw.client("330784.zlb").submit(doc_type("application_form"), form)
    hospital = gw.client("330784.health.h001")
    for careless in ("33078419860314001x", "33078419860314001X "):
        diagnosis = any_example("medical_diagnosis")
        diagnosis["case_id"] = CASE
        diagnosis["patient"]["id_number"] = careless
        with pytest.raises(SubmitError) as refused:
            await hospital.submit(doc_type("medical_diagnosis"), diagnosis, subject=CASE)
        assert refused.value.status == 422
        assert "/data/patient/id_number" in str(refused.value.problem)
        assert careless.strip() not in str(refused.value.problem)
    diagnosis["patient"]["id_number"] = "33078419860314001X"
    await hospital.submit(doc_type("medical_diagnosis"), diagnosis, subject=CASE)
    case = (await read_case(gw, "330784.zlb"))[1]
    status = {m["type"]: m["status"] for m in case["stages"][0]["material_status"]}
    assert status[doc_type("medical_diagnosis")] == "received"
