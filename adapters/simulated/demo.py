"""``gateway demo``: the work-injury one-thing, end to end, on a simulated clock.

The gateway runs on its embedded default (SQLite in a fresh data directory, the default
configuration, the case layer of ``config/cases/work_injury.toml``). Every department is a
simulated system behind its real adapter (``systems.py``), talking to the gateway over
HTTP on loopback; the employer answers through its own channel (330784.zlb.enterprise).
Five cases are played, the first on the reform's own dates (all working days of 2019):

1. the reform's case: on Thursday 11 July 2019 a die crushes a worker's right middle finger
   (skin, nail bed and bone of the distal phalanx lost); he applies with one form on
   Wednesday 24 July and is recognised the same day, assessed grade 10 on Thursday 1 August
   and paid 21,582.40 yuan (7 x 3,083.20) on Friday 2 August;
2. a commuting accident with liability shared equally: recognised, grade 9, leaving the job;
   the fund pays its items and the employer is told what it owes (the employment subsidy);
3. an injury by violence, where the police station never answers: the case runs past its
   30-day deadline and the law's 15-day clock, and is flagged;
4. a commuting accident where the worker bears the main liability: the case layer flags it
   to the recognition centre, which decides not to recognise, with its basis and remedy;
5. a press injury the employer disputes through its channel: the case leaves the simplified
   route for ordinary recognition (art. 19, the employer bearing the burden of proof).

Then the reform's figures from ``GET /admin/v1/cases/statistics``. What is printed names
departments, document types, stages and times, never a person: the same rule as the
gateway's logs. The exit status is 1 when a promise below does not hold (``check``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from adapters.hrss.benefits import PayeeAccount, issue_payment_record, load_config
from adapters.simulated import exports
from adapters.simulated.exports import SAMPLE_EMPLOYER, SAMPLE_PERSON, Dossier
from adapters.simulated.report import check, print_case, print_summary
from adapters.simulated.systems import FAMILIES, DemoError, DepartmentSystem
from gateway.clock import ManualClock
from gateway.testing import GatewayHandle, running_gateway

CHINA = timezone(timedelta(hours=8))
PREFIX = "cn.gov.zj.injury."
FORM = f"{PREFIX}application_form.v1"
REQUEST = f"{PREFIX}material_request.v1"
NOTICE = f"{PREFIX}case_notice.v1"
PAYMENT = f"{PREFIX}benefit_payment_record.v1"
TRAFFIC = f"{PREFIX}traffic_accident_determination.v1"
EMPLOYER = "330784.zlb.enterprise"
ANSWER_TIME = timedelta(minutes=20)  # how long a department's system takes to answer
#: the area's average monthly wage in the reform's year (illustrative): 60% of it is below
#: the worker's own 3,083.20, so his own wage stands, as in the reform's report
REFORM_AREA_WAGE = Decimal("4516.75")


def local(text: str) -> datetime:
    """``"2019-07-24 09:00"`` in China Standard Time."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)


def form_of(name: str, **changes: Any) -> dict[str, Any]:
    """An application form: the schema example ``name`` with ``changes`` merged in."""
    form = copy.deepcopy(exports.example("application_form", name))
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(form.get(key), dict):
            form[key].update(value)
        else:
            form[key] = value
    return form


def reform_form() -> dict[str, Any]:
    """The press form moved to the reform's dates (injury Thursday 11 July 2019) and its
    injury: the worker was treated as an outpatient."""
    shifted = Dossier(
        "", SAMPLE_PERSON, SAMPLE_EMPLOYER, date(2019, 7, 11), exports.SAMPLE_ACCOUNT, REFORM_TEXTS
    )
    form: dict[str, Any] = json.loads(
        shifted.rewrite(json.dumps(exports.example("application_form", "workplace_press")))
    )
    form["application_number"] = "ZLB-GS-20190724-00731"
    form["hospitalised"] = False
    form["injury"].update(
        description="在车间作业时右手中指被磨具压伤，右中指末节皮肤、甲床、骨质缺损。",
        body_part="右手中指末节",
    )
    return form


#: (code, name, code, name, procedure, treatment): the reform's injury, a crushed fingertip
REFORM_TEXTS = (
    "S68.1",
    "右手中指末节部分离断伤（皮肤、甲床、骨质缺损）",
    "S61.1",
    "右手中指开放性伤口伴甲床损伤",
    "86.22^右中指末节清创残端修整术",
    "行右中指末节清创、残端修整缝合术，定期换药复查。",
)
WRIST_TEXTS = (
    "S52.5",
    "左桡骨远端骨折",
    "T14.0",
    "多处软组织挫伤",
    "79.32^左桡骨远端骨折切开复位内固定术",
    "行左桡骨远端骨折切开复位内固定术，术后休息，定期复查。",
)
HEAD_TEXTS = ("S06.0", "脑震荡", "S00.8", "面部挫伤", "", "留院观察，休息，定期复查。")
ANKLE_TEXTS = ("S93.4", "右踝关节扭伤", "S80.0", "右膝挫伤", "", "制动，休息，定期复查。")
FINGER_TEXTS = (
    "S62.6",
    "左手食指近节指骨骨折",
    "S61.0",
    "左手食指开放性伤口",
    "",
    "石膏固定，休息，定期复查。",
)


@dataclass(frozen=True, slots=True)
class Story:
    title: str
    form: dict[str, Any]
    texts: tuple[str, ...]  # the injury, as the hospital's documents give it
    applied: datetime
    expect: str  # the outcome the story ends with ("open" while it is still open)
    before: tuple[str, ...] = ()  # what happened before the application, for the reader
    liability: str = ""  # the applicant's, in the traffic police's words
    recognition: str = ""  # example of the recognition decision
    recognised: datetime | None = None
    conclusion: str = ""  # example of the assessment conclusion
    grade: int | None = None
    concluded: datetime | None = None
    paid: datetime | None = None
    wages: tuple[str, ...] = ()  # the 12 monthly contribution wages before the injury
    leaves_job: bool = False
    area_wage: Decimal | None = None  # the year's figure, when not the shipped one
    silent: frozenset[str] = frozenset()  # departments that never answer
    disputed: datetime | None = None  # when the employer disputes


def stories() -> tuple[Story, ...]:
    return (
        Story(
            title="The reform's case: right middle fingertip crushed by a die (2019)",
            form=reform_form(),
            texts=REFORM_TEXTS,
            applied=local("2019-07-24 09:00"),
            expect="completed",
            before=(
                "2019-07-11 Thu  injured at work; the hospital's green channel treats him",
                "2019-07-11 Thu  emergency record and diagnosis stay in the hospital's system",
            ),
            recognition="press_recognised",
            recognised=local("2019-07-24 16:30"),
            conclusion="grade_10",
            concluded=local("2019-08-01 10:00"),
            paid=local("2019-08-02 10:00"),
            wages=("3083.20",) * 12,
            area_wage=REFORM_AREA_WAGE,
        ),
        Story(
            title="Commuting accident, liability shared equally: grade 9, leaving the job",
            form=form_of("commuting_ebike"),
            texts=WRIST_TEXTS,
            applied=local("2026-06-08 09:30"),
            expect="completed",
            before=("2026-06-03 Wed  hit by a car riding to work; liability shared equally",),
            liability="同等责任",
            recognition="commuting_recognised",
            recognised=local("2026-06-09 15:00"),
            conclusion="grade_9",
            concluded=local("2026-06-17 10:00"),
            paid=local("2026-06-18 10:00"),
            wages=("4620.00",) * 12,
            leaves_job=True,
        ),
        Story(
            title="Injury by violence on duty: the police station never answers",
            form=form_of("violence_security_guard"),
            texts=HEAD_TEXTS,
            applied=local("2026-08-24 10:00"),
            expect="open",
            before=("2026-08-19 Wed  a security guard is assaulted while on duty",),
            silent=frozenset({"330784.police.station"}),
        ),
        Story(
            title="Commuting accident, the worker mainly liable: the centre decides",
            form=form_of(
                "commuting_ebike",
                application_number="ZLB-GS-20260907-00766",
                submitted_by="worker",
                applicant={
                    "name": "吕建峰",
                    "id_number": "330784199112030515",
                    "gender": "male",
                    "birth_date": "1991-12-03",
                    "phone": "13967912305",
                    "job_title": "装配工",
                    "employment_start_date": "2020-03-02",
                },
                injury={"date": "2026-09-02", "time": "07:40", "body_part": "右踝"},
                hospital={"first_visit_date": "2026-09-02"},
                hospitalised=False,
                traffic_determination_ref={
                    "document_number": "永公交认字[2026]第00519号",
                    "issued_by": "永康市公安局交通警察大队",
                    "issued_date": "2026-09-03",
                },
                employer_report={
                    "reported_date": "2026-09-03",
                    "summary": "职工上班途中发生交通事故受伤。",
                },
                payee_account_ref={"reference": "ZLB-ZH-2026-0907-0766", "account_last4": "5521"},
            ),
            texts=ANKLE_TEXTS,
            applied=local("2026-09-07 09:00"),
            expect="not_recognised",
            before=("2026-09-02 Wed  rides an e-bike into a car on the way to work",),
            liability="主要责任",
            recognition="commuting_not_recognised",
            recognised=local("2026-09-10 15:00"),
        ),
        Story(
            title="Press injury the employer disputes through its own channel",
            form=form_of(
                "workplace_press",
                application_number="ZLB-GS-20261012-00802",
                applicant={
                    "name": "胡丽萍",
                    "id_number": "330784198805090428",
                    "gender": "female",
                    "birth_date": "1988-05-09",
                    "phone": "15857963321",
                },
                injury={"date": "2026-10-09", "time": "17:50", "body_part": "左手食指"},
                hospital={"first_visit_date": "2026-10-09"},
                hospitalised=False,
                employer_report={
                    "reported_date": "2026-10-10",
                    "summary": "职工称在冲床作业时受伤。",
                },
                payee_account_ref={"reference": "ZLB-ZH-2026-1012-0802", "account_last4": "7730"},
            ),
            texts=FINGER_TEXTS,
            applied=local("2026-10-12 09:00"),
            expect="employer_disputes",
            before=("2026-10-09 Fri  hurt at a press after her shift, she says at work",),
            disputed=local("2026-10-13 11:00"),
        ),
    )


@dataclass(slots=True)
class Played:
    story: Story
    case_id: str
    case: dict[str, Any]
    payment: dict[str, Any] | None = None
    told_employer: list[dict[str, Any]] = field(default_factory=list)


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
        self.dossiers: dict[str, Dossier] = {}
        self.story: Story | None = None

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
        story = self.story
        if kind != REQUEST or data["requested_from"] != dept or story is None:
            return
        if dept in story.silent or case_id not in self.dossiers:
            return
        self.clock.advance(ANSWER_TIME)
        wanted = data["requested_type"]
        if wanted == TRAFFIC:
            native = exports.traffic(story.form, case_id, story.liability)
        else:
            native = exports.material(wanted, self.dossiers[case_id])
        await self.system(dept).send(native, wanted, case_id)

    async def case(self, case_id: str) -> dict[str, Any]:
        """The case as the applicant's channel may read it (GET /v1/cases/{id})."""
        return await self.system("330784.zlb").client.case(case_id)


async def play(world: World, story: Story) -> Played:
    world.story = story
    world.clock.set(story.applied)
    zlb = world.system("330784.zlb")
    seen = {e.subject for e in zlb.received}
    # the form's case id, as the case layer will write it, so the systems can file under it
    definition = world.gw.cases.definition  # type: ignore[union-attr]
    case_id = definition.case_id_from(story.form["application_number"])
    world.dossiers[case_id] = Dossier.for_form(case_id, story.form, story.texts)
    applied_at = story.applied.isoformat(timespec="seconds")
    await zlb.send(exports.application(story.form, applied_at), FORM, None)
    await world.settle()
    told = {e.subject for e in zlb.received if e.type == NOTICE} - seen
    if told != {case_id}:
        raise DemoError("the applicant's channel was not told its case id")
    played = Played(story, case_id, {})
    if story.disputed is not None:
        world.clock.set(story.disputed)
        native = exports.statement(story.form, case_id, story.disputed, DISPUTE_REASONS)
        await world.system(EMPLOYER).send(native, f"{PREFIX}employer_statement.v1", case_id)
        await world.settle()
    if story.recognised is not None:
        await decide(world, case_id, "recognition", story.recognised, recognise(story))
    if story.concluded is not None:
        await decide(world, case_id, "assessment", story.concluded, conclude(story))
    if story.paid is not None:
        await decide(world, case_id, "payment", story.paid, pay(story, case_id))
        played.payment = received(zlb.received, PAYMENT, case_id)
    if story.silent:
        await watch_deadline(world, case_id)
    played.case = await world.case(case_id)
    played.told_employer = [
        e.data for e in world.system(EMPLOYER).received if e.subject == case_id and e.type == NOTICE
    ]
    return played


DISPUTE_REASONS = (
    "事发时该职工已下班，系私自操作冲床受伤，不属于工作时间和工作场所内因工作原因受伤。"
)
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
        today = world.clock.now().astimezone(CHINA).date()
        native = exports.recognition(story.recognition, today, world.dossiers[case_id], story.form)
        await world.system("330784.hrss.recognition").send(
            native, f"{PREFIX}recognition_decision.v1", case_id
        )

    return act


def conclude(story: Story) -> Decider:
    async def act(world: World, case_id: str) -> None:
        assert story.recognised is not None
        today = world.clock.now().astimezone(CHINA).date()
        dates = (story.recognised.date(), today)
        document = exports.conclusion(
            story.conclusion, world.dossiers[case_id], story.form, dates, story.grade
        )
        native = exports.thin("assessment_conclusion", document, f"{case_id}-conclusion.json")
        await world.system("330700.hrss.assessment").send(
            native, f"{PREFIX}assessment_conclusion.v1", case_id
        )

    return act


def pay(story: Story, case_id: str) -> Decider:
    """The social insurance agency computes the benefits from the conclusion and the payee
    account the applicant confirmed for the case, and issues the payment record."""

    async def act(world: World, _: str) -> None:
        agency = world.system("330784.hrss.benefits")
        conclusion = received(agency.received, f"{PREFIX}assessment_conclusion.v1", case_id)
        account = received(agency.received, f"{PREFIX}payee_bank_account.v1", case_id)
        if conclusion is None or account is None:
            raise DemoError(f"{case_id}: the agency lacks the conclusion or the payee account")
        config = load_config()
        if story.area_wage is not None:
            config = dataclasses.replace(config, area_average_monthly_wage=story.area_wage)
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


async def statistics(gw: GatewayHandle) -> dict[str, Any]:
    token = (gw.data_dir / "admin-token").read_text().strip()
    async with gw.session.get(
        f"{gw.base_url}/admin/v1/cases/statistics", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        if response.status != 200:
            raise DemoError(f"statistics: HTTP {response.status}")
        body: dict[str, Any] = await response.json()
        return body


async def run_demo(out: TextIO, data_dir: Path) -> int:
    told = stories()
    clock = ManualClock(told[0].applied)
    async with running_gateway(data_dir, clock=clock, run_dispatcher=False) as gw:
        out.write(
            f"zj-exchange demo: the work-injury one-thing on a simulated clock\n"
            f"gateway {gw.base_url} on SQLite in {data_dir}; "
            f"{len(FAMILIES)} department systems, each behind its adapter\n"
        )
        world = World(gw, clock, data_dir / "systems")
        played = []
        for number, story in enumerate(told, start=1):
            played.append(await play(world, story))
            print_case(out, number, played[-1])
        figures = await statistics(gw)
        print_summary(out, played, figures, gw)
    faults = check(played, figures)
    for fault in faults:
        out.write(f"FAILED: {fault}\n")
    return 1 if faults else 0
