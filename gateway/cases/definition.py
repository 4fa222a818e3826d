"""A case definition: the stages, the materials each needs and who issues them, as data.

Why data and not code: the materials a procedure needs change by policy notice, not by
release; an administrator reads and edits ``config/cases/work_injury.toml``, and every
mistake in it is refused at start-up with the file and the key that is wrong.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.configuration.loader import DEPARTMENT_ID, TYPE_NAME, Place, parse_duration
from gateway.problems import ConfigError
from gateway.routing.router import resolve_pointer

_MISSING = resolve_pointer({}, "/absent")  # the router's "absent" marker


@dataclass(frozen=True, slots=True)
class Condition:
    """``pointer`` holds one of ``values``; with ``within``, any item of that array that
    satisfies ``where`` does (so a condition can say "the injured party's liability")."""

    pointer: str
    values: tuple[Any, ...]
    within: str | None = None
    where: Condition | None = None

    def holds(self, document: Any) -> bool:
        if self.within is None:
            return _has(document, self.pointer, self.values)
        items = resolve_pointer(document, self.within)
        if not isinstance(items, list):
            return False
        chosen = [i for i in items if self.where is None or self.where.holds(i)]
        return any(_has(item, self.pointer, self.values) for item in chosen)


def _has(document: Any, pointer: str, values: tuple[Any, ...]) -> bool:
    value = resolve_pointer(document, pointer)
    # `True in (1,)` is true in Python; compare types too so a flag never matches a count
    return value is not _MISSING and any(value == v and type(value) is type(v) for v in values)


@dataclass(frozen=True, slots=True)
class Material:
    type: str
    issuer: str
    when: Condition | None = None  # read on the application form
    refuse_when: Condition | None = None  # read on the material itself
    refuse_reason: str = ""

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
    proceeds_when: Condition | None = None  # on the decision; absent: any decision proceeds

    def needed(self, form: Mapping[str, Any]) -> tuple[Material, ...]:
        """The materials this stage needs for this application."""
        return tuple(m for m in self.materials if m.when is None or m.when.holds(form))


@dataclass(frozen=True, slots=True)
class CaseDefinition:
    name: str
    title: str
    service: str
    opened_by: str
    applicant_channel: str
    case_id_pointer: str
    case_id_pattern: re.Pattern[str] | None
    case_id_format: str
    worker_pointer: str
    deadline: timedelta
    warn_before: timedelta
    material_due: timedelta
    stages: tuple[Stage, ...]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def next_stage(self, name: str) -> Stage | None:
        names = [s.name for s in self.stages]
        index = names.index(name) + 1
        return self.stages[index] if index < len(self.stages) else None

    def case_id_from(self, value: str) -> str:
        """The case id for a form whose event has no subject: ``value`` (read at
        ``case_id_pointer``) rewritten by the pattern and format when it matches them."""
        match = self.case_id_pattern.fullmatch(value) if self.case_id_pattern else None
        return self.case_id_format.format(**match.groupdict()) if match else value

    def departments(self) -> set[str]:
        """Every department the definition names, for checking against departments.toml."""
        named = {self.service, self.applicant_channel}
        for stage in self.stages:
            named.add(stage.decided_by)
            named.update(m.issuer for m in stage.materials)
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


def parse_definition(doc: Mapping[str, Any], file: str) -> CaseDefinition:
    place = Place(file)
    place.only(doc, {"case", "stages"})
    here = place.at("case")
    case = here.table(doc.get("case"))
    here.only(
        case,
        {
            "name",
            "title",
            "service",
            "opened_by",
            "applicant_channel",
            "case_id_pointer",
            "case_id_pattern",
            "case_id_format",
            "worker_pointer",
            "deadline",
            "warn_before",
            "material_due",
        },
    )
    raw_stages = doc.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise place.at("stages").fail("needs at least one [[stages]] table")
    stages = tuple(_stage(s, place.at("stages").at(i)) for i, s in enumerate(raw_stages))
    if len({s.name for s in stages}) != len(stages):
        raise place.at("stages").fail("stage names must be unique")
    return CaseDefinition(
        name=_text(case, "name", here),
        title=_text(case, "title", here),
        service=_department(case, "service", here),
        opened_by=_doc_type(case, "opened_by", here),
        applicant_channel=_department(case, "applicant_channel", here),
        case_id_pointer=_pointer(case.get("case_id_pointer"), here.at("case_id_pointer")),
        **_case_id_rule(case, here),
        worker_pointer=_pointer(case.get("worker_pointer"), here.at("worker_pointer")),
        deadline=parse_duration(case.get("deadline"), here.at("deadline")),
        warn_before=parse_duration(case.get("warn_before"), here.at("warn_before")),
        material_due=parse_duration(case.get("material_due"), here.at("material_due")),
        stages=stages,
    )


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


def _stage(raw: Any, place: Place) -> Stage:
    table = place.table(raw)
    place.only(table, {"name", "title", "decision", "decided_by", "proceeds_when", "materials"})
    materials = table.get("materials", [])
    if not isinstance(materials, list):
        raise place.at("materials").fail("must be an array of tables ([[stages.materials]])")
    return Stage(
        name=_text(table, "name", place),
        title=_text(table, "title", place),
        decision=_doc_type(table, "decision", place),
        decided_by=_department(table, "decided_by", place),
        materials=tuple(_material(m, place.at("materials").at(i)) for i, m in enumerate(materials)),
        proceeds_when=_opt_condition(table, "proceeds_when", place),
    )


def _material(raw: Any, place: Place) -> Material:
    table = place.table(raw)
    place.only(table, {"type", "from", "when", "refuse_when", "refuse_reason"})
    refuse_when = _opt_condition(table, "refuse_when", place)
    reason = table.get("refuse_reason", "")
    if refuse_when is not None and not (isinstance(reason, str) and reason):
        raise place.at("refuse_reason").fail("is required with refuse_when")
    return Material(
        type=_doc_type(table, "type", place),
        issuer=_department(table, "from", place),
        when=_opt_condition(table, "when", place),
        refuse_when=refuse_when,
        refuse_reason=reason,
    )


def _opt_condition(table: Mapping[str, Any], key: str, place: Place) -> Condition | None:
    return _condition(table[key], place.at(key)) if key in table else None


def _condition(raw: Any, place: Place) -> Condition:
    table = place.table(raw)
    place.only(table, {"pointer", "equals", "in", "within", "where"})
    if ("equals" in table) == ("in" in table):
        raise place.fail("needs exactly one of 'equals' or 'in'")
    if "in" in table:
        values = table["in"]
        if not isinstance(values, list) or not values:
            raise place.at("in").fail("must be a non-empty list")
    else:
        values = [table["equals"]]
    within = table.get("within")
    return Condition(
        pointer=_pointer(table.get("pointer"), place.at("pointer")),
        values=tuple(values),
        within=None if within is None else _pointer(within, place.at("within")),
        where=_condition(table["where"], place.at("where")) if "where" in table else None,
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


def _pointer(value: Any, place: Place) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise place.fail("must be a JSON Pointer such as /injury/accident_kind")
    return value
