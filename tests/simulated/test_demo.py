"""``gateway demo`` as a person runs it: the real command, a fresh data directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from adapters.simulated.demo import Played, Story, check

REPO = Path(__file__).resolve().parents[2]
GATEWAY = Path(sys.executable).with_name("gateway")


def run_demo(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), "demo", "--data-dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


def test_demo_shows_three_cases_the_payment_and_the_deadline(tmp_path: Path) -> None:
    done = run_demo(tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    for case_id in ("GS-330784-2026-000731", "GS-330784-2026-000588", "GS-330784-2026-000214"):
        assert f"  {case_id}  " in out
    assert "paid 21,582.40 yuan on 2026-08-02: disability subsidy 7 x 3,083.20" in out
    assert "application to payment in 9.0 days" in out
    assert "asks for traffic_accident_determination" in out
    assert "DEADLINE WARNING" in out and "waiting for police_certificate" in out
    assert "deadline breaches counted (zjx_case_deadline_breaches): 1" in out
    assert "FAILED" not in out


def test_demo_prints_no_personal_data(tmp_path: Path) -> None:
    done = run_demo(tmp_path)
    planted = set()
    for form in (REPO / "schemas" / "examples" / "application_form" / "valid").glob("*.json"):
        data = json.loads(form.read_text(encoding="utf-8"))
        planted |= {data["applicant"]["name"], data["applicant"]["id_number"]}
        planted.add(data["applicant"]["phone"])
    for value in planted:
        assert value not in done.stdout and value not in done.stderr


def test_the_demo_checks_its_own_promises() -> None:
    story = Story(title="t", form="workplace_press", applied=None)  # type: ignore[arg-type]
    paid = Played(story, "A", {"status": "closed"}, {"total_amount": "21582.39"})
    commuting = Played(story, "B", {"status": "open"})
    late = Played(story, "C", {"status": "open", "deadline_flag": "near"})
    assert check([paid, commuting, late]) == [
        "the reform's case was not paid 21582.40",
        "the commuting case did not close",
        "the late case was not flagged overdue",
    ]
