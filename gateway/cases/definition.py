"""A case definition: stages, materials and their issuers, clocks and outcomes, as data.

Why data and not code: the materials a procedure needs change by policy notice, not by
release; an administrator reads and edits ``config/cases/work_injury.toml``, and every
mistake in it is refused at start-up with the file and the key that is wrong. Each rule
names its source (article of the Regulations or the measures) in the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.cases.conditions import Match, When, optional_when, parse_matches, pointer
from gateway.configuration.loader import DEPARTMENT_ID, TYPE_NAME, Place, parse_duration
from gateway.problems import ConfigError

ROUTES = ("closed", "handed_off")
CLOCK_STARTS = ("opened", "stage")


@dataclass(frozen=True, slots=True)
class Material:
    type: str
    issuer: str
    when: When | None = None  # read on the application form: does this case need it?
    optional: bool = False  # counted when it comes; the stage does not wait for it
    matches: tuple[Match, ...] = ()  # facts it must share with the application form
    advise_when: When | None = None  # read on the material: a flag for the deciding body
    advice: str = ""

    @property
    def short(self) -> str:
        """``cn.gov.zj.injury.medical_diagnosis.v1`` -> ``medical_diagnosis``."""
        return short_type(self.type)


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    title: str
    decision: str
    decided_by: str
    materials: tuple[Material, ...]
    employer_owes: str | None = None  # pointer into the decision: the employer's amount

    def needed(self, form: Mapping[str, Any]) -> tuple[Material, ...]:
        """The materials this stage waits for in this application."""
        return tuple(
            m
            for m in self.materials
            if not m.optional and (m.when is None or m.when.holds(form, form))
        )

    def material(self, doc_type: str) -> Material | None:
        return next((m for m in self.materials if m.type == doc_type), None)


@dataclass(frozen=True, slots=True)
class Clock:
    """A time limit of the law: from ``starts`` until ``stage``'s decision arrives."""

    name: str
    title: str
    stage: str
    starts: str  # opened | stage
    limit: timedelta
    extension: timedelta
    warn_before: timedelta
    source: str


@dataclass(frozen=True, slots=True)
class ApplicationLimit:
    """Forms satisfying ``when`` are filed within ``limit`` of the date at ``since``."""

    when: When
    since: str
    limit: timedelta
    source: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where the case goes when ``type`` from ``issuer`` satisfies ``when``."""

    name: str
    type: str
    issuer: str
    when: When
    route: str  # closed | handed_off
    handed_to: str | None
    reason: str
    relay: tuple[str, ...] = ()  # pointers whose text the notice quotes (basis, remedy)


@dataclass(frozen=True, slots=True)
class CaseDefinition:
    name: str
    title: str
    service: str
    opened_by: str
    applicant_channel: str
    employer_channel: str
    applicant_id_pointer: str
    case_id_pointer: str
    case_id_pattern: re.Pattern[str] | None
    case_id_format: str
    worker_pointer: str
    deadline: timedelta
    warn_before: timedelta
    material_due: timedelta
    statistics_baseline: timedelta
    stages: tuple[Stage, ...]
    clocks: tuple[Clock, ...] = ()
    application_limits: tuple[ApplicationLimit, ...] = ()
    outcomes: tuple[Outcome, ...] = ()

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def next_stage(self, name: str) -> Stage | None:
        names = [s.name for s in self.stages]
        index = names.index(name) + 1
        return self.stages[index] if index < len(self.stages) else None

    def outcome_for(self, doc_type: str, source: str, document: Any, form: Any) -> Outcome | None:
        for outcome in self.outcomes:
            if (outcome.type, outcome.issuer) == (doc_type, source) and outcome.when.holds(
                document, form
            ):
                return outcome
        return None

    def case_id_from(self, value: str) -> str:
        """The case id for a form whose event has no subject: ``value`` (read at
        ``case_id_pointer``) rewritten by the pattern and format when it matches them."""
        match = self.case_id_pattern.fullmatch(value) if self.case_id_pattern else None
        return self.case_id_format.format(**match.groupdict()) if match else value

    def departments(self) -> set[str]:
        """Every department the definition names, for checking against departments.toml."""
        named = {self.service, self.applicant_channel, self.employer_channel}
        for stage in self.stages:
            named.add(stage.decided_by)
            named.update(m.issuer for m in stage.materials)
        for outcome in self.outcomes:
            named.add(outcome.issuer)
            named.update([outcome.handed_to] if outcome.handed_to else [])
        return named


def short_type(doc_type: str) -> str:
    parts = doc_type.split(".")
    return parts[-2] if len(parts) >= 2 else doc_type


def load_definition(path: Path) -> CaseDefinition:
    try:
        with Path(path).open("rb") as handle:
            doc = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_definition(doc, str(path))


_CASE_KEYS = {
    "name",
    "title",
    "service",
    "opened_by",
    "applicant_channel",
    "employer_channel",
    "applicant_id_pointer",
    "case_id_pointer",
    "case_id_pattern",
    "case_id_format",
    "worker_pointer",
    "deadline",
    "warn_before",
    "material_due",
    "statistics_baseline",
}


def parse_definition(doc: Mapping[str, Any], file: str) -> CaseDefinition:
    place = Place(file)
    place.only(doc, {"case", "stages", "clocks", "application_limits", "outcomes"})
    here = place.at("case")
    case = here.table(doc.get("case"))
    here.only(case, _CASE_KEYS)
    applicant = pointer(case.get("applicant_id_pointer"), here.at("applicant_id_pointer"))
    stages = _array(doc, "stages", place, lambda r, p: _stage(r, p, applicant), required=True)
    if len({s.name for s in stages}) != len(stages):
        raise place.at("stages").fail("stage names must be unique")
    clocks = _array(doc, "clocks", place, _clock)
    for i, clock in enumerate(clocks):
        if clock.stage not in {s.name for s in stages}:
            raise place.at("clocks").at(i).at("stage").fail("must name a stage")
    return CaseDefinition(
        name=_text(case, "name", here),
        title=_text(case, "title", here),
        service=_department(case, "service", here),
        opened_by=_doc_type(case, "opened_by", here),
        applicant_channel=_department(case, "applicant_channel", here),
        employer_channel=_department(case, "employer_channel", here),
        applicant_id_pointer=applicant,
        case_id_pointer=pointer(case.get("case_id_pointer"), here.at("case_id_pointer")),
        **_case_id_rule(case, here),
        worker_pointer=pointer(case.get("worker_pointer"), here.at("worker_pointer")),
        deadline=parse_duration(case.get("deadline"), here.at("deadline")),
        warn_before=parse_duration(case.get("warn_before"), here.at("warn_before")),
        material_due=parse_duration(case.get("material_due"), here.at("material_due")),
        statistics_baseline=parse_duration(
            case.get("statistics_baseline"), here.at("statistics_baseline")
        ),
        stages=stages,
        clocks=clocks,
        application_limits=_array(doc, "application_limits", place, _application_limit),
        outcomes=_array(doc, "outcomes", place, _outcome),
    )


def _array(
    doc: Mapping[str, Any], key: str, place: Place, parse: Any, *, required: bool = False
) -> tuple[Any, ...]:
    raw = doc.get(key, [])
    if not isinstance(raw, list) or (required and not raw):
        raise place.at(key).fail(
            f"needs {'at least one' if required else 'an array of'} [[{key}]] table(s)"
        )
    return tuple(parse(item, place.at(key).at(i)) for i, item in enumerate(raw))


def _case_id_rule(case: Mapping[str, Any], place: Place) -> dict[str, Any]:
    if "case_id_pattern" not in case:
        return {"case_id_pattern": None, "case_id_format": ""}
    try:
        pattern = re.compile(_text(case, "case_id_pattern", place))
    except re.error as exc:
        raise place.at("case_id_pattern").fail(f"not a regular expression: {exc}") from None
    template = _text(case, "case_id_format", place)
    try:
        template.format(**dict.fromkeys(pattern.groupindex, "1"))
    except (KeyError, ValueError, IndexError) as exc:
        raise place.at("case_id_format").fail(
            f"must use only the pattern's named groups ({exc})"
        ) from None
    return {"case_id_pattern": pattern, "case_id_format": template}


def _stage(raw: Any, place: Place, applicant: str) -> Stage:
    table = place.table(raw)
    place.only(table, {"name", "title", "decision", "decided_by", "materials", "employer_owes"})
    owes = table.get("employer_owes")
    return Stage(
        name=_text(table, "name", place),
        title=_text(table, "title", place),
        decision=_doc_type(table, "decision", place),
        decided_by=_department(table, "decided_by", place),
        materials=_array(table, "materials", place, lambda r, p: _material(r, p, applicant)),
        employer_owes=None if owes is None else pointer(owes, place.at("employer_owes")),
    )


def _material(raw: Any, place: Place, applicant: str) -> Material:
    table = place.table(raw)
    place.only(
        table, {"type", "from", "when", "optional", "person", "matches", "advise_when", "advice"}
    )
    advise_when = optional_when(table, "advise_when", place)
    advice = table.get("advice", "")
    if advise_when is not None and not (isinstance(advice, str) and advice):
        raise place.at("advice").fail("is required with advise_when")
    optional = table.get("optional", False)
    if not isinstance(optional, bool):
        raise place.at("optional").fail("must be true or false")
    person = table.get("person", [])
    if not isinstance(person, list):
        raise place.at("person").fail("must be an array of JSON Pointers")
    people = tuple(
        Match(pointer(p, place.at("person").at(i)), applicant, "person's ID number")
        for i, p in enumerate(person)
    )
    return Material(
        type=_doc_type(table, "type", place),
        issuer=_department(table, "from", place),
        when=optional_when(table, "when", place),
        optional=optional,
        matches=people + parse_matches(table.get("matches", []), place.at("matches")),
        advise_when=advise_when,
        advice=advice,
    )


def _clock(raw: Any, place: Place) -> Clock:
    table = place.table(raw)
    keys = {"name", "title", "stage", "starts", "limit", "extension", "warn_before", "source"}
    place.only(table, keys)
    starts = _text(table, "starts", place)
    if starts not in CLOCK_STARTS:
        raise place.at("starts").fail(f"must be one of {', '.join(CLOCK_STARTS)}")
    return Clock(
        name=_text(table, "name", place),
        title=_text(table, "title", place),
        stage=_text(table, "stage", place),
        starts=starts,
        limit=parse_duration(table.get("limit"), place.at("limit")),
        extension=parse_duration(table.get("extension", "0s"), place.at("extension")),
        warn_before=parse_duration(table.get("warn_before"), place.at("warn_before")),
        source=_text(table, "source", place),
    )


def _application_limit(raw: Any, place: Place) -> ApplicationLimit:
    table = place.table(raw)
    place.only(table, {"when", "since", "limit", "source"})
    when = optional_when(table, "when", place)
    if when is None:
        raise place.at("when").fail("is required")
    return ApplicationLimit(
        when=when,
        since=pointer(table.get("since"), place.at("since")),
        limit=parse_duration(table.get("limit"), place.at("limit")),
        source=_text(table, "source", place),
    )


def _outcome(raw: Any, place: Place) -> Outcome:
    table = place.table(raw)
    place.only(table, {"name", "type", "from", "when", "route", "to", "relay", "reason"})
    route = _text(table, "route", place)
    if route not in ROUTES:
        raise place.at("route").fail(f"must be one of {', '.join(ROUTES)}")
    handed_to = _department(table, "to", place) if route == "handed_off" else None
    if route == "closed" and "to" in table:
        raise place.at("to").fail("only a handed_off outcome names where it goes")
    when = optional_when(table, "when", place)
    if when is None:
        raise place.at("when").fail("is required")
    relay = table.get("relay", [])
    if not isinstance(relay, list):
        raise place.at("relay").fail("must be an array of JSON Pointers")
    return Outcome(
        name=_text(table, "name", place),
        type=_doc_type(table, "type", place),
        issuer=_department(table, "from", place),
        when=when,
        route=route,
        handed_to=handed_to,
        reason=_text(table, "reason", place),
        relay=tuple(pointer(p, place.at("relay").at(i)) for i, p in enumerate(relay)),
    )


def _text(table: Mapping[str, Any], key: str, place: Place) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise place.at(key).fail("must be a non-empty string")
    return value


def _department(table: Mapping[str, Any], key: str, place: Place) -> str:
    value = _text(table, key, place)
    if not DEPARTMENT_ID.fullmatch(value):
        raise place.at(key).fail("must be a department id such as 330784.health.h001")
    return value


def _doc_type(table: Mapping[str, Any], key: str, place: Place) -> str:
    value = _text(table, key, place)
    if not TYPE_NAME.fullmatch(value):
        raise place.at(key).fail("must be a document type such as cn.gov.zj.injury.x.v1")
    return value
