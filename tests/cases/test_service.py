"""The case layer in a running gateway, over real HTTP, on both stores.

Departments are played by clients that answer each material request with the example
document of the requested type, under the case id, as a department's adapter would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.clock import ManualClock
from gateway.messages import SignedMessage
from gateway.testing import GatewayHandle, running_gateway
from tests.cases.conftest import doc_type, example

START = datetime(2026, 7, 24, 1, 0, tzinfo=UTC)
PRESS = example("application_form", "workplace_press")
CASE = "GS-330784-2026-000731"  # from the form's application number ZLB-GS-20260715-00731
EXAMPLE_FILE = {
    "traffic_accident_determination": "ebikes_equal",
    "recognition_decision": "press_recognised",
    "assessment_conclusion": "grade_10",
    "benefit_payment_record": "grade_10_disability_only",
}
ISSUERS = (
    "330784.police.household",
    "330784.police.traffic",
    "330784.police.station",
    "330784.hrss.benefits",
    "330784.market",
    "330784.health.h001",
    "330700.nfra",
    "330784.medinsurance",
)


@pytest.fixture
async def gateway(tmp_path: Path, database: str | None) -> AsyncIterator[GatewayHandle]:
    async with running_gateway(
        tmp_path, clock=ManualClock(START), database=database, run_dispatcher=False
    ) as handle:
        yield handle


def any_example(name: str) -> dict[str, Any]:
    if name in EXAMPLE_FILE:
        return example(name, EXAMPLE_FILE[name])
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
) -> list[str]:
    """Every issuer answers what it was asked for; returns the types sent."""
    sent = []
    for dept in ISSUERS:
        if dept in silent:
            continue
        for kind, subject, data in await drain(gw, dept):
            if kind != doc_type("material_request"):
                continue
            name = data["requested_type"].split(".")[-2]
            document = (overrides or {}).get(name) or any_example(name)
            await gw.client(dept).submit(data["requested_type"], document, subject=subject)
            sent.append(name)
    return sent


async def decide(
    gw: GatewayHandle, dept: str, name: str, data: dict[str, Any] | None = None, case: str = CASE
) -> None:
    await gw.client(dept).submit(doc_type(name), data or any_example(name), subject=case)


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
    clock.advance(timedelta(days=5))
    await gw.cases.check_deadlines()
    await gw.cases.check_deadlines()
    case = (await read_case(gw, "330784.zlb"))[1]
    assert case["deadline_flag"] == "overdue"
    assert case["stages"][0]["missing"] == [doc_type("business_licence")]
    assert sample(gw, "zjx_case_deadline_breaches_total", stage="recognition") == 1
    overdue = [
        d
        for k, _, d in await drain(gw, "330784.zlb")
        if k == doc_type("case_notice") and d["status"] == "overdue"
    ]
    assert len(overdue) == 1, case["timeline"][-1]
    assert "business_licence" in overdue[0]["message_en"]


def liable(liability: str) -> dict[str, Any]:
    data = example("traffic_accident_determination", "ebikes_equal")
    for party in data["parties"]:
        party["liability"] = liability if party["injured"] else "minor"
    return data


@pytest.mark.parametrize(("liability", "expected"), [("main", "closed"), ("minor", "open")])
async def test_commuting_recognition_depends_on_liability(
    gateway: GatewayHandle, liability: str, expected: str
) -> None:
    gw = gateway
    form = example("application_form", "commuting_ebike")
    await gw.client("330784.zlb").submit(doc_type("application_form"), form)
    case_id = "GS-330784-2026-000588"  # ZLB-GS-20260605-00588
    await answer_requests(gw, {"traffic_accident_determination": liable(liability)})
    status, case = await read_case(gw, "330784.zlb", case_id)
    assert status == 200 and case["status"] == expected
    if expected == "closed":
        assert case["outcome"] == "refused"
        rejected = [
            d
            for k, _, d in await drain(gw, "330784.zlb")
            if k == doc_type("case_notice") and d["status"] == "rejected"
        ]
        assert len(rejected) == 1
    else:
        assert case["stages"][0]["missing"] == []


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
    assert await gw.cases.catch_up() == 1
    assert (await read_case(gw, "330784.zlb"))[0] == 200
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
