"""The reform's figures against a hand computation (review 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.cases.state import CaseState
from gateway.cases.statistics import summarise

OPENED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def closed_after(days: float, outcome: str = "completed", n: int = 0) -> CaseState:
    return CaseState(
        case_id=f"GS-330784-2026-{n:06d}",
        definition="work_injury",
        opened_at=OPENED.isoformat(),
        deadline=(OPENED + timedelta(days=30)).isoformat(),
        form_seq=n,
        stage="payment",
        status="closed",
        outcome=outcome,
        closed_at=(OPENED + timedelta(days=days)).isoformat(),
    )


def test_median_p90_and_days_saved_by_hand() -> None:
    """Durations 1..10 days: the median is (5 + 6) / 2 = 5.5, the 90th percentile (nearest
    rank: the 9th of 10) is 9, and the days saved are 10 x 180 - 55 = 1745. The one refused
    case is counted on its own and saves nothing."""
    cases = [closed_after(d, n=d) for d in range(10, 0, -1)]
    cases.append(closed_after(12, "not_recognised", 99))
    figures = summarise(cases, timedelta(days=180))
    completed, refused = figures["groups"]
    assert completed == {
        "year": 2026,
        "outcome": "completed",
        "count": 10,
        "median_days": 5.5,
        "p90_days": 9.0,
        "baseline_days": 180.0,
        "days_saved": 1745.0,
    }
    assert (refused["count"], refused["median_days"], refused["days_saved"]) == (
        1,
        12.0,
        None,
    )
    assert (figures["closed"], figures["days_saved"]) == (11, 1745.0)


def test_odd_count_median_is_the_middle_value() -> None:
    figures = summarise([closed_after(d, n=d) for d in (3, 1, 20)], timedelta(days=180))
    assert (figures["groups"][0]["median_days"], figures["groups"][0]["p90_days"]) == (3.0, 20.0)


def test_the_year_is_the_closing_day_in_zhejiang() -> None:
    """Closed at 16:30 UTC on 31 December 2026, 00:30 on 1 January 2027 in Zhejiang."""
    case = closed_after(1)
    case.closed_at = datetime(2026, 12, 31, 16, 30, tzinfo=UTC).isoformat()
    assert summarise([case], timedelta(days=180))["groups"][0]["year"] == 2027
