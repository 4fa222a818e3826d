"""The reform's figures from the cases themselves: per year and outcome, how many cases, how
long they took (median and 90th percentile, in days) and the days saved against the
ordinary procedure's baseline (``statistics_baseline`` in the case definition, 180 days).

The year is the calendar year (China Standard Time) in which the case closed. Days saved are
counted only for completed cases (application to payment, what the baseline measures): a
case closed by a body's refusal saved the worker the wait for a "no", not a payment, and a
case handed off to the ordinary procedure goes on there, so nothing is claimed for either.
Percentiles are nearest-rank (the smallest value with at least p% of the cases at or below
it), which a reader can redo by hand from the list of durations.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.cases.state import CHINA, CaseState

COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class Group:
    year: int
    outcome: str
    durations: tuple[float, ...]  # days, sorted

    def as_json(self, baseline: timedelta) -> dict[str, Any]:
        days = baseline.total_seconds() / 86400
        saved = None
        if self.outcome == COMPLETED:
            saved = round(sum(days - d for d in self.durations), 1)
        return {
            "year": self.year,
            "outcome": self.outcome,
            "count": len(self.durations),
            "median_days": round(percentile(self.durations, 50), 2),
            "p90_days": round(percentile(self.durations, 90), 2),
            "baseline_days": days,
            "days_saved": saved,
        }


def percentile(ordered: tuple[float, ...], p: float) -> float:
    """Nearest-rank percentile of a sorted, non-empty sequence (50: the median by rank,
    the lower middle value when the count is even)."""
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summarise(cases: Iterable[CaseState], baseline: timedelta) -> dict[str, Any]:
    groups: dict[tuple[int, str], list[float]] = defaultdict(list)
    for case in cases:
        if case.closed_at is None or case.outcome is None:
            continue
        closed = datetime.fromisoformat(case.closed_at)
        days = (closed - case.opened()).total_seconds() / 86400
        groups[(closed.astimezone(CHINA).year, case.outcome)].append(days)
    rows = [
        Group(year, outcome, tuple(sorted(days))).as_json(baseline)
        for (year, outcome), days in sorted(groups.items())
    ]
    saved = sum(r["days_saved"] or 0 for r in rows)
    return {
        "baseline_days": baseline.total_seconds() / 86400,
        "closed": sum(r["count"] for r in rows),
        "days_saved": round(saved, 1),
        "groups": rows,
    }
