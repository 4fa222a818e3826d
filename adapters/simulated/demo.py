"""``gateway demo``: the work-injury one-thing, end to end, on a simulated clock.

The gateway runs on its embedded default (SQLite in a fresh data directory, the default
configuration, the case layer of ``config/cases/work_injury.toml``). Every department is a
simulated system behind its real adapter (``systems.py``), talking to the gateway over
HTTP on loopback. Three cases are played:

1. the reform's own example: a press crushes a worker's right middle finger on 11 July, he
   applies with one form on 24 July, is recognised the same day, assessed grade 10 on
   1 August and paid 21,582.40 yuan (7 x 3,083.20) on 2 August;
2. a commuting accident, which needs the traffic police's determination (the worker shares
   the liability equally, so the route qualifies);
3. an injury by violence, where the police station never answers, so the case runs past
   its 30-day deadline and is flagged.

What is printed names departments, document types, stages and times, never a person: the
same rule as the gateway's logs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from adapters.hrss.benefits import PayeeAccount, issue_payment_record, load_config
from adapters.simulated import exports
from adapters.simulated.systems import FAMILIES, DemoError, DepartmentSystem
from gateway.clock import ManualClock
from gateway.testing import GatewayHandle, running_gateway

CHINA = timezone(timedelta(hours=8))
PREFIX = "cn.gov.zj.injury."
FORM = f"{PREFIX}application_form.v1"
REQUEST = f"{PREFIX}material_request.v1"
NOTICE = f"{PREFIX}case_notice.v1"
PAYMENT = f"{PREFIX}benefit_payment_record.v1"
ANSWER_TIME = timedelta(minutes=20)  # how long a department's system takes to answer
#: the area's average monthly wage in the reform's year (illustrative): 60% of it is below
#: the worker's own 3,083.20, so his own wage stands, as in the reform's report
REFORM_AREA_WAGE = Decimal("4516.75")


def local(text: str) -> datetime:
    """``"2026-07-24 09:00"`` in China Standard Time."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)


@dataclass(frozen=True, slots=True)
class Story:
    title: str
    form: str  # the schema example of the application form
    applied: datetime
    before: tuple[str, ...] = ()  # what happened before the application, for the reader
    recognition: str = ""  # example of the recognition decision
    recognised: datetime | None = None
    conclusion: str = ""  # example of the assessment conclusion
    concluded: datetime | None = None
    paid: datetime | None = None
    wages: tuple[str, ...] = ()  # the 12 monthly contribution wages before the injury
    leaves_job: bool = False
    silent: frozenset[str] = frozenset()  # departments that never answer


STORIES = (
    Story(
        title="Workplace accident: right middle finger crushed in a press (the reform's case)",
        form="workplace_press",
        applied=local("2026-07-24 09:00"),
        before=(
            "2026-07-11  injured at work; the hospital's green channel takes him in",
            "2026-07-12  diagnosis certificate issued; it stays in the hospital's system",
        ),
        recognition="press_recognised",
        recognised=local("2026-07-24 16:30"),
        conclusion="grade_10",
        concluded=local("2026-08-01 10:00"),
        paid=local("2026-08-02 10:00"),
        wages=("3083.20",) * 12,
    ),
    Story(
        title="Commuting accident on an e-bike: needs the traffic police's determination",
        form="commuting_ebike",
        applied=local("2026-08-10 09:30"),
        before=("2026-06-03  hit by a car riding to work; liability shared equally",),
        recognition="commuting_recognised",
        recognised=local("2026-08-11 15:00"),
        conclusion="grade_9",
        concluded=local("2026-08-20 10:00"),
        paid=local("2026-08-21 10:00"),
        wages=("4620.00",) * 12,
        leaves_job=True,
    ),
    Story(
        title="Injury by violence on duty: the police station never answers",
        form="violence_security_guard",
        applied=local("2026-08-24 10:00"),
        before=("2026-08-19  a security guard is assaulted while on duty",),
        silent=frozenset({"330784.police.station"}),
    ),
)


@dataclass(slots=True)
class Played:
    story: Story
    case_id: str
    case: dict[str, Any]
    payment: dict[str, Any] | None = None


class World:
    """The gateway, the simulated systems and the clock they all share."""

    def __init__(self, gw: GatewayHandle, clock: ManualClock, folder: Path) -> None:
        self.gw = gw
        self.clock = clock
        self.systems = {
            dept: DepartmentSystem.for_department(dept, gw.client(dept), folder / dept, clock)
            for dept in FAMILIES
        }
        self.ready: set[tuple[str, str]] = set()  # (case id, stage) whose decider was told
        self.silent: frozenset[str] = frozenset()

    def system(self, dept: str) -> DepartmentSystem:
        return self.systems[dept]

    async def settle(self) -> None:
        """Let every system read its inbox and answer, until nobody has anything new."""
        while True:
            busy = False
            for dept, system in self.systems.items():
                for event in await system.pull():
                    busy = True
                    await self._react(dept, event.type, event.subject, event.data)
            if not busy:
                return

    async def _react(self, dept: str, kind: str, case_id: str | None, data: Any) -> None:
        if kind == NOTICE and data["status"] == "in_progress" and case_id:
            self.ready.add((case_id, data["stage"]))
        if kind != REQUEST or data["requested_from"] != dept or dept in self.silent:
            return
        self.clock.advance(ANSWER_TIME)
        native = exports.material(data["requested_type"], data["case_id"])
        await self.system(dept).send(native, data["requested_type"], data["case_id"])

    async def case(self, case_id: str) -> dict[str, Any]:
        """The case as the applicant's channel may read it (GET /v1/cases/{id})."""
        return await self.system("330784.zlb").client.case(case_id)


async def play(world: World, story: Story) -> Played:
    world.silent = story.silent
    world.clock.set(story.applied)
    zlb = world.system("330784.zlb")
    seen = {e.subject for e in zlb.received}
    applied_at = story.applied.isoformat(timespec="seconds")
    await zlb.send(exports.application(story.form, applied_at), FORM, None)
    await world.settle()
    new = {e.subject for e in zlb.received if e.type == NOTICE} - seen
    if len(new) != 1:
        raise DemoError("the applicant's channel was not told its case id")
    case_id = str(new.pop())
    played = Played(story, case_id, {})
    if story.recognised is not None:
        await decide(world, case_id, "recognition", story.recognised, recognise(story))
    if story.concluded is not None:
        await decide(world, case_id, "assessment", story.concluded, conclude(story))
    if story.paid is not None:
        await decide(world, case_id, "payment", story.paid, pay(story, case_id))
        played.payment = received(zlb_events(world), PAYMENT, case_id)
    if story.silent:
        await watch_deadline(world, case_id)
    played.case = await world.case(case_id)
    return played


Decider = Callable[[World, str], Any]


async def decide(world: World, case_id: str, stage: str, when: datetime, act: Decider) -> None:
    """The deciding body acts once the case layer told it the materials are in."""
    if (case_id, stage) not in world.ready:
        case = await world.case(case_id)
        missing = [exports.short(t) for s in case["stages"] for t in s["missing"]]
        raise DemoError(
            f"{case_id}: {stage} was never ready for a decision "
            f"(stage {case['stage']}, status {case['status']}, missing {missing})"
        )
    world.clock.set(when)
    await act(world, case_id)
    await world.settle()


def recognise(story: Story) -> Decider:
    async def act(world: World, case_id: str) -> None:
        native = exports.recognition(story.recognition, world.clock.now().date())
        await world.system("330784.hrss.recognition").send(
            native, f"{PREFIX}recognition_decision.v1", case_id
        )

    return act


def conclude(story: Story) -> Decider:
    async def act(world: World, case_id: str) -> None:
        assert story.recognised is not None
        document = exports.conclusion(
            story.conclusion, story.recognised.date(), world.clock.now().date()
        )
        document["case_id"] = case_id
        native = exports.thin("assessment_conclusion", document, f"{case_id}-conclusion.json")
        await world.system("330700.hrss.assessment").send(
            native, f"{PREFIX}assessment_conclusion.v1", case_id
        )

    return act


def pay(story: Story, case_id: str) -> Decider:
    """The social insurance agency computes the benefits from the conclusion and the payee
    account it received for the case, and issues the payment record."""

    async def act(world: World, _: str) -> None:
        agency = world.system("330784.hrss.benefits")
        conclusion = received(agency.received, f"{PREFIX}assessment_conclusion.v1", case_id)
        account = received(agency.received, f"{PREFIX}payee_bank_account.v1", case_id)
        if conclusion is None or account is None:
            raise DemoError(f"{case_id}: the agency lacks the conclusion or the payee account")
        config = dataclasses.replace(load_config(), area_average_monthly_wage=REFORM_AREA_WAGE)
        today = world.clock.now().astimezone(CHINA).date()
        record = issue_payment_record(
            conclusion,
            [Decimal(w) for w in story.wages],
            leaves_job=story.leaves_job,
            payee=PayeeAccount(
                account["account_reference"],
                account["bank_name"],
                account["account_number"][-4:],
            ),
            payment_number=f"YKGS-ZF-{today:%Y-%m%d}-{case_id[-4:]}",
            paid_date=today,
            approved_date=today,
            config=config,
        )
        native = exports.thin("benefit_payment_record", record, f"{case_id}-payment.json")
        await agency.send(native, PAYMENT, case_id)

    return act


def zlb_events(world: World) -> list[Any]:
    return world.system("330784.zlb").received


def received(events: list[Any], doc_type: str, case_id: str) -> dict[str, Any] | None:
    for event in reversed(events):
        if event.type == doc_type and event.subject == case_id:
            data: dict[str, Any] = event.data
            return data
    return None


async def watch_deadline(world: World, case_id: str) -> None:
    """Day by day, as the gateway's deadline watch does, until the case is overdue."""
    cases = world.gw.cases
    assert cases is not None
    for _ in range(40):
        world.clock.advance(timedelta(days=1))
        await cases.check_deadlines()
        await world.settle()
        if (await world.case(case_id))["deadline_flag"] == "overdue":
            return
    raise DemoError(f"{case_id}: the deadline watch never flagged the case")


# ---------------------------------------------------------------------- printing


def print_case(out: TextIO, number: int, played: Played) -> None:
    case = played.case
    story = played.story
    out.write(f"\nCase {number}  {played.case_id}  {story.title}\n")
    for line in story.before:
        out.write(f"  {line}\n")
    out.write(f"  {'day':>5}  {'UTC+8':<11}  {'stage':<11}  {'what':<44}  from -> to\n")
    for step in case["timeline"]:
        out.write(_row(step) + "\n")
    out.write(_result(played) + "\n")


def _row(step: dict[str, Any]) -> str:
    at = datetime.fromisoformat(step["at"]).astimezone(CHINA)
    what = _what(step)
    route = ""
    if step["from"] or step["to"]:
        route = f"{_dept(step['from'] or '')} -> {', '.join(_dept(d) for d in step['to'])}"
    return (
        f"  {step['elapsed_days']:>5.1f}  {at:%m-%d %H:%M}  {step['stage']:<11}  "
        f"{what:<44}  {route}"
    ).rstrip()


def _what(step: dict[str, Any]) -> str:
    kind = step["kind"]
    name = exports.short(step["type"] or "")
    if kind == "request":
        return f"asks for {step['note'].split()[1]}"
    if kind == "notice":
        return f"case notice: {step['note'].split('(')[1].split(')')[0]}"
    if kind in ("document", "opened"):
        return name
    return f"[{step['note']}]"


def _dept(dept: str) -> str:
    return dept.removeprefix("330784.")


def _result(played: Played) -> str:
    case = played.case
    lines = []
    travelled = [
        s for s in case["timeline"] if s["kind"] == "document" and "material for" in s["note"]
    ]
    if case["status"] == "closed":
        opened = datetime.fromisoformat(case["opened_at"])
        closed = datetime.fromisoformat(case["closed_at"])
        days = (closed - opened).total_seconds() / 86400
        lines.append(
            f"  Closed ({case['outcome']}): {days:.1f} days from application to payment "
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
    if played.payment is not None:
        lines.append("  " + _payment(played.payment))
    lines.append(
        f"  {len(travelled)} materials travelled between departments instead of the worker"
    )
    return "\n".join(lines)


def _payment(record: dict[str, Any]) -> str:
    subsidy = record["disability_subsidy"]
    parts = [
        f"paid {_yuan(record['total_amount'])} yuan on {record['paid_date']}: "
        f"disability subsidy {subsidy['months']} x {_yuan(record['own_monthly_wage'])}"
        f" = {_yuan(subsidy['amount'])}"
    ]
    for key, label in (("medical_subsidy", "medical"), ("employment_subsidy", "employment")):
        if key in record:
            parts.append(f"{label} subsidy {_yuan(record[key]['amount'])}")
    return "; ".join(parts) + f" (grade {record['disability_grade']})"


def _yuan(amount: str) -> str:
    return f"{Decimal(amount):,.2f}"


def print_summary(out: TextIO, played: list[Played], gw: GatewayHandle) -> None:
    registry = gw.metrics.registry
    cases = gw.cases
    assert cases is not None
    breaches = 0.0
    for stage in cases.definition.stages:
        name = "zjx_case_deadline_breaches_total"
        breaches += registry.get_sample_value(name, {"stage": stage.name}) or 0.0
    closed = [p for p in played if p.case["status"] == "closed"]
    travelled = sum(
        1
        for p in played
        for s in p.case["timeline"]
        if s["kind"] == "document" and "material for" in s["note"]
    )
    out.write("\nSummary\n")
    out.write(f"  {len(played)} applications, one form each; {len(closed)} closed\n")
    for p in closed:
        opened = datetime.fromisoformat(p.case["opened_at"])
        days = (datetime.fromisoformat(p.case["closed_at"]) - opened).total_seconds() / 86400
        out.write(f"  {p.case_id}: application to payment in {days:.1f} days (limit 30)\n")
    out.write(f"  {travelled} materials travelled between departments instead of the workers\n")
    out.write(f"  deadline breaches counted (zjx_case_deadline_breaches): {int(breaches)}\n")


def check(played: list[Played]) -> list[str]:
    """What the demo promises; an empty list means it held."""
    faults = []
    first = played[0]
    if first.payment is None or first.payment["total_amount"] != "21582.40":
        faults.append("the reform's case was not paid 21582.40")
    if played[1].case["status"] != "closed":
        faults.append("the commuting case did not close")
    if played[2].case["deadline_flag"] != "overdue":
        faults.append("the late case was not flagged overdue")
    return faults


async def run_demo(out: TextIO, data_dir: Path) -> int:
    clock = ManualClock(STORIES[0].applied)
    async with running_gateway(data_dir, clock=clock, run_dispatcher=False) as gw:
        out.write(
            f"zj-exchange demo: the work-injury one-thing on a simulated clock\n"
            f"gateway {gw.base_url} on SQLite in {data_dir}; "
            f"{len(FAMILIES)} department systems, each behind its adapter\n"
        )
        world = World(gw, clock, data_dir / "systems")
        played = []
        for number, story in enumerate(STORIES, start=1):
            played.append(await play(world, story))
            print_case(out, number, played[-1])
        print_summary(out, played, gw)
    faults = check(played)
    for fault in faults:
        out.write(f"FAILED: {fault}\n")
    return 1 if faults else 0
