"""What ``gateway demo`` prints, and the promises it checks (its exit status).

Printing names departments, document types, stages, times and amounts, never a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from adapters.simulated import exports

if TYPE_CHECKING:
    from adapters.simulated.demo import Played
    from gateway.testing import GatewayHandle

CHINA = timezone(timedelta(hours=8))
#: the report: "about 4,000 injured workers a year ... 600,000 days saved"
REPORT_WORKERS_PER_YEAR = 4000
REPORT_DAYS_SAVED = 600_000
WORKING_DAYS = range(5)  # Monday to Friday


def print_case(out: TextIO, number: int, played: Played) -> None:
    case = played.case
    story = played.story
    out.write(f"\nCase {number}  {played.case_id}  {story.title}\n")
    for line in story.before:
        out.write(f"  {line}\n")
    out.write(f"  {'day':>5}  {'UTC+8':<20}  {'stage':<11}  {'what':<44}  from -> to\n")
    for step in case["timeline"]:
        out.write(_row(step) + "\n")
    out.write(_result(played) + "\n")


def _row(step: dict[str, Any]) -> str:
    at = datetime.fromisoformat(step["at"]).astimezone(CHINA)
    route = ""
    if step["from"] or step["to"]:
        route = f"{_dept(step['from'] or '')} -> {', '.join(_dept(d) for d in step['to'])}"
    return (
        f"  {step['elapsed_days']:>5.1f}  {at:%a %Y-%m-%d %H:%M}  {step['stage']:<11}  "
        f"{_what(step):<44}  {route}"
    ).rstrip()


def _what(step: dict[str, Any]) -> str:
    kind = step["kind"]
    name = exports.short(step["type"] or "")
    if kind == "request":
        return f"asks for {step['note'].split()[1]}"
    if kind == "notice":
        return f"case notice: {step['note'].split('(')[1].split(')')[0]}"
    if kind == "document" and step["note"].startswith("not counted"):
        return f"{name} NOT COUNTED ({step['note'].split(': ', 1)[1].split(' (')[0]})"
    if kind in ("document", "opened"):
        return name
    return f"[{step['note'][:100]}]"


def _dept(dept: str) -> str:
    return dept.removeprefix("330784.")


def _days(case: dict[str, Any]) -> float:
    opened = datetime.fromisoformat(case["opened_at"])
    return (datetime.fromisoformat(case["closed_at"]) - opened).total_seconds() / 86400


def _result(played: Played) -> str:
    case = played.case
    lines = []
    if case["status"] == "closed":
        where = f"; handed to {case['handed_to']}" if case["handed_to"] else ""
        lines.append(
            f"  Closed ({case['outcome']}{where}): {_days(case):.1f} days from application "
            f"(deadline {case['deadline'][:10]}: {case['deadline_flag']})"
        )
    else:
        stage = next(s for s in case["stages"] if s["name"] == case["stage"])
        missing = [exports.short(t) for t in stage["missing"]] or ["a decision"]
        lines.append(
            f"  DEADLINE WARNING: still open in {case['stage']} after "
            f"{case['timeline'][-1]['elapsed_days']:.0f} days, deadline {case['deadline'][:10]} "
            f"{case['deadline_flag'].upper()}; waiting for {', '.join(missing)}"
        )
    for flag in case["flags"]:
        lines.append(f"  advisory flag for the deciding body: {flag}")
    if played.payment is not None:
        lines.append("  " + _payment(played.payment))
    for notice in played.told_employer:
        if "amount_owed" in notice:
            lines.append(f"  the employer is told it owes {_yuan(notice['amount_owed'])} yuan")
    lines.append(
        f"  {_travelled(case)} materials travelled between departments instead of the worker"
    )
    return "\n".join(lines)


def _travelled(case: dict[str, Any]) -> int:
    return sum(
        1 for s in case["timeline"] if s["kind"] == "document" and "material for" in s["note"]
    )


def _payment(record: dict[str, Any]) -> str:
    subsidy = record["disability_subsidy"]
    parts = [
        f"the fund paid {_yuan(record['total_amount'])} yuan on {record['paid_date']}: "
        f"disability subsidy {subsidy['months']} x {_yuan(record['own_monthly_wage'])}"
        f" = {_yuan(subsidy['amount'])}"
    ]
    if "medical_subsidy" in record:
        parts.append(f"medical subsidy {_yuan(record['medical_subsidy']['amount'])}")
    if "employment_subsidy" in record:
        parts.append(
            f"employment subsidy {_yuan(record['employment_subsidy']['amount'])} "
            "owed by the employer"
        )
    return "; ".join(parts) + f" (grade {record['disability_grade']})"


def _yuan(amount: str) -> str:
    return f"{Decimal(amount):,.2f}"


def print_summary(
    out: TextIO, played: list[Played], figures: dict[str, Any], gw: GatewayHandle
) -> None:
    registry = gw.metrics.registry
    cases = gw.cases
    assert cases is not None
    breaches = sum(
        registry.get_sample_value("zjx_case_deadline_breaches_total", {"stage": s.name}) or 0.0
        for s in cases.definition.stages
    )
    clocks = sum(
        registry.get_sample_value(
            "zjx_case_clock_events_total", {"clock": c.name, "event": "breached"}
        )
        or 0.0
        for c in cases.definition.clocks
    )
    out.write("\nSummary\n")
    out.write(f"  {len(played)} applications, one form each\n")
    travelled = sum(_travelled(p.case) for p in played)
    out.write(f"  {travelled} materials travelled between departments instead of the workers\n")
    out.write(f"  30-day deadline breaches counted (zjx_case_deadline_breaches): {int(breaches)}\n")
    out.write(f"  the law's time limits breached (zjx_case_clock_events): {int(clocks)}\n")
    out.write("\nThe reform's figures (GET /admin/v1/cases/statistics)\n")
    out.write(
        f"  {'year':<5} {'outcome':<18} {'cases':>5} {'median':>7} {'p90':>6} {'days saved':>11}\n"
    )
    for group in figures["groups"]:
        saved = "-" if group["days_saved"] is None else f"{group['days_saved']:.1f}"
        out.write(
            f"  {group['year']:<5} {group['outcome']:<18} {group['count']:>5} "
            f"{group['median_days']:>7.1f} {group['p90_days']:>6.1f} {saved:>11}\n"
        )
    out.write(_report_figure(figures))


def _report_figure(figures: dict[str, Any]) -> str:
    baseline = figures["baseline_days"]
    done = [g for g in figures["groups"] if g["outcome"] == "completed"]
    count = sum(g["count"] for g in done)
    saved = sum(g["days_saved"] for g in done)
    each = saved / count if count else 0.0
    return (
        f"  baseline {baseline:.0f} days (the ordinary procedure at best). The report's "
        f"{REPORT_DAYS_SAVED:,} days a year are {REPORT_WORKERS_PER_YEAR:,} workers x "
        f"{REPORT_DAYS_SAVED // REPORT_WORKERS_PER_YEAR} days ({baseline:.0f} less the 30-day "
        f"promise);\n  the completed cases here saved {each:.1f} days each: at "
        f"{REPORT_WORKERS_PER_YEAR:,} workers a year, {each * REPORT_WORKERS_PER_YEAR:,.0f} days\n"
    )


def check(played: list[Played], figures: dict[str, Any]) -> list[str]:
    """What the demo promises; an empty list means it held."""
    faults = []
    for number, p in enumerate(played, start=1):
        outcome = p.case["outcome"] if p.case["status"] == "closed" else "open"
        if outcome != p.story.expect:
            faults.append(f"case {number} ended {outcome}, not {p.story.expect}")
        if any("refused (" in s["note"] for s in p.case["timeline"]):
            faults.append(f"case {number}: a message of the case service was refused")
        if any(
            m["status"] == "not_counted" for s in p.case["stages"] for m in s["material_status"]
        ):
            faults.append(f"case {number}: a material did not match the application")
    faults += _reform_case(played[0])
    commuting = played[1]
    if commuting.payment is None or "employer_amount" not in commuting.payment:
        faults.append("the commuting case's payment record names no employer's amount")
    elif not any("amount_owed" in n for n in commuting.told_employer):
        faults.append("the employer was not told what it owes")
    if played[2].case["deadline_flag"] != "overdue":
        faults.append("the late case was not flagged overdue")
    if not played[3].case["flags"]:
        faults.append("the mainly-liable commuting case raised no flag for the centre")
    if played[4].case["handed_to"] != "330784.hrss.recognition":
        faults.append("the disputed case was not handed to ordinary recognition")
    closed = sum(1 for p in played if p.case["status"] == "closed")
    if figures["closed"] != closed:
        faults.append(f"the statistics count {figures['closed']} closed cases, not {closed}")
    return faults


def _reform_case(played: Played) -> list[str]:
    faults = []
    if played.payment is None or played.payment["total_amount"] != "21582.40":
        faults.append("the reform's case was not paid 21582.40")
    story = played.story
    days = [story.applied, story.recognised, story.concluded, story.paid]
    if any(d is None or d.year != 2019 or d.weekday() not in WORKING_DAYS for d in days):
        faults.append("the reform's case does not play on working days of 2019")
    if played.case["status"] == "closed" and _days(played.case) > 30:
        faults.append("the reform's case took more than 30 days")
    return faults
