"""``gateway demo`` as a person runs it: the real command, a fresh data directory."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.simulated.demo import Played, stories
from adapters.simulated.report import check

REPO = Path(__file__).resolve().parents[2]
GATEWAY = Path(sys.executable).with_name("gateway")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    tmp_path = tmp_path_factory.mktemp("demo")
    return subprocess.run(
        [str(GATEWAY), "demo", "--data-dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


def test_demo_shows_five_cases_and_the_reforms_figures(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    out = demo.stdout
    for case_id in (
        "GS-330784-2019-000731",
        "GS-330784-2026-000588",
        "GS-330784-2026-000214",
        "GS-330784-2026-000766",
        "GS-330784-2026-000802",
    ):
        assert f"  {case_id}  " in out
    assert "the fund paid 21,582.40 yuan on 2019-08-02: disability subsidy 7 x 3,083.20" in out
    assert "Closed (completed): 9.0 days from application" in out
    assert "employment subsidy 71,250.00 owed by the employer" in out
    assert "the employer is told it owes 71,250.00 yuan" in out
    assert "DEADLINE WARNING" in out and "waiting for police_certificate" in out
    assert "advisory flag for the deciding body: the applicant bears main" in out
    assert "Closed (not_recognised)" in out
    assert "Closed (employer_disputes; handed to 330784.hrss.recognition)" in out
    assert "30-day deadline breaches counted (zjx_case_deadline_breaches): 1" in out
    assert "  2019  completed              1     9.0    9.0       171.0" in out
    assert "NOT COUNTED" not in out and "refused" not in out and "FAILED" not in out


def test_the_reforms_case_plays_on_working_days_of_2019(
    demo: subprocess.CompletedProcess[str],
) -> None:
    case = demo.stdout.split("\nCase 2 ")[0].split("\nCase 1 ")[1]
    days = re.findall(r"  (\w{3}) (\d{4})-\d\d-\d\d \d\d:\d\d  ", case)
    assert days and {year for _, year in days} == {"2019"}
    assert {day for day, _ in days} <= {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert "S68.1" not in demo.stdout  # diagnoses stay in the documents, never printed


def test_demo_prints_no_personal_data(demo: subprocess.CompletedProcess[str]) -> None:
    planted = set()
    forms = [s.form for s in stories()]
    for file in (REPO / "schemas" / "examples" / "application_form" / "valid").glob("*.json"):
        forms.append(json.loads(file.read_text(encoding="utf-8")))
    for data in forms:
        planted |= {data["applicant"]["name"], data["applicant"]["id_number"]}
        planted.add(data["applicant"]["phone"])
    assert len(planted) >= 15
    for value in planted:
        assert value not in demo.stdout and value not in demo.stderr


def played(number: int, case: dict[str, Any], **extra: Any) -> Played:
    base = {"status": "closed", "outcome": None, "timeline": [], "stages": [], "flags": []}
    base.update(case)
    return Played(stories()[number], f"C{number}", base, **extra)


def test_the_demo_checks_its_own_promises() -> None:
    told = stories()
    good = [
        played(
            0,
            {
                "outcome": "completed",
                "opened_at": "2019-07-24T01:00:00+00:00",
                "closed_at": "2019-08-02T02:00:00+00:00",
            },
            payment={"total_amount": "21582.40"},
        ),
        played(
            1,
            {"outcome": "completed"},
            payment={"employer_amount": "1.00"},
            told_employer=[{"amount_owed": "1.00"}],
        ),
        played(2, {"status": "open", "deadline_flag": "overdue"}),
        played(3, {"outcome": "not_recognised", "flags": ["x"]}),
        played(4, {"outcome": "employer_disputes", "handed_to": "330784.hrss.recognition"}),
    ]
    assert check(good, {"closed": 4}) == []
    bad = copy.deepcopy(good)
    bad[0].payment = {"total_amount": "21582.39"}
    bad[1].told_employer = []
    bad[2].case["deadline_flag"] = "near"
    bad[3].case["flags"] = []
    bad[4].case.update(outcome="completed", handed_to=None)
    bad[4].case["timeline"] = [{"note": "requested x: refused (id-reused)"}]
    assert told[4].expect == "employer_disputes"
    assert check(bad, {"closed": 3}) == [
        "case 5 ended completed, not employer_disputes",
        "case 5: a message of the case service was refused",
        "the reform's case was not paid 21582.40",
        "the employer was not told what it owes",
        "the late case was not flagged overdue",
        "the mainly-liable commuting case raised no flag for the centre",
        "the disputed case was not handed to ordinary recognition",
        "the statistics count 3 closed cases, not 4",
    ]
