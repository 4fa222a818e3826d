"""Reading a case definition: the shipped one loads, mistakes are named by file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.assembly import load_case_definition
from gateway.cases import CaseDefinition, load_definition
from gateway.cases.conditions import Condition, Match, values_at
from gateway.cases.definition import parse_definition
from gateway.configuration import load_config
from gateway.problems import ConfigError
from tests.cases.conftest import REPO

SHIPPED = REPO / "config" / "cases" / "work_injury.toml"


def shipped() -> dict[str, Any]:
    return tomllib.loads(SHIPPED.read_text(encoding="utf-8"))


def test_shipped_definition_has_three_stages(definition: CaseDefinition) -> None:
    assert [s.name for s in definition.stages] == ["recognition", "assessment", "payment"]
    assert definition.deadline.days == 30
    assert definition.service == "330784.onething"
    assert definition.statistics_baseline.days == 180


def test_shipped_clocks_are_the_regulations(definition: CaseDefinition) -> None:
    clocks = {
        c.name: (c.stage, c.starts, c.limit.days, c.extension.days) for c in definition.clocks
    }
    assert clocks == {
        "recognition": ("recognition", "opened", 60, 0),  # art. 20 para. 1
        "recognition_clear_cut": ("recognition", "opened", 15, 0),  # art. 20 para. 2
        "assessment": ("assessment", "stage", 60, 30),  # art. 25 para. 2
    }
    assert [limit.limit.days for limit in definition.application_limits] == [30, 365]  # art. 17


def test_no_rule_of_the_definition_decides_recognition(definition: CaseDefinition) -> None:
    """Liability is an advisory flag to the recognition centre, not an outcome."""
    traffic = definition.stages[0].material("cn.gov.zj.injury.traffic_accident_determination.v1")
    assert traffic is not None and traffic.advise_when is not None
    closers = {(o.type.split(".")[-2], o.issuer) for o in definition.outcomes}
    assert ("traffic_accident_determination", "330784.police.traffic") not in closers
    assert all(
        o.issuer
        in {s.decided_by for s in definition.stages}
        | {"330784.zlb", "330784.zlb.enterprise", "330784.hrss.benefits"}
        for o in definition.outcomes
    )


def test_every_department_it_names_is_configured() -> None:
    config = load_config(REPO / "config")
    assert load_case_definition(config) is not None
    assert not load_definition(SHIPPED).departments() - set(config.departments)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["case"].update(colour="red"), "case: unknown key(s) colour"),
        (lambda d: d["case"].update(deadline="a month"), "case.deadline"),
        (lambda d: d["stages"][0].update(decided_by="nobody"), "stages[0].decided_by"),
        (
            lambda d: d["stages"][1]["materials"][0].update(type="diagnosis"),
            "stages[1].materials[0].type",
        ),
        (
            lambda d: d["stages"][0]["materials"][9].pop("advice"),
            "stages[0].materials[9].advice",
        ),
        (lambda d: d["outcomes"][0].update(route="decide"), "outcomes[0].route"),
        (lambda d: d["outcomes"][1].pop("to"), "outcomes[1].to"),
        (lambda d: d["outcomes"][0].update(to="330784.zlb"), "outcomes[0].to"),
        (lambda d: d["clocks"][0].update(stage="appeal"), "clocks[0].stage"),
        (lambda d: d["clocks"][0].update(starts="later"), "clocks[0].starts"),
        (
            lambda d: d["stages"][0]["materials"][4]["matches"][0].pop("what"),
            "stages[0].materials[4].matches[0].what",
        ),
        (
            lambda d: d["stages"][0]["materials"][5]["when"].pop("equals"),
            "stages[0].materials[5].when: needs exactly one of",
        ),
        (
            lambda d: d["stages"][0]["materials"][5]["when"].update(pointer="hospitalised"),
            "stages[0].materials[5].when.pointer",
        ),
        (lambda d: d.update(stages=[]), "stages: needs at least one"),
        (lambda d: d["case"].update(case_id_pattern="(?P<x"), "case.case_id_pattern"),
        (lambda d: d["case"].update(case_id_format="GS-{region}"), "case.case_id_format"),
        (lambda d: d["stages"].append(dict(d["stages"][0])), "stage names must be unique"),
    ],
)
def test_mistakes_are_named(change: Any, where: str) -> None:
    doc = shipped()
    change(doc)
    with pytest.raises(ConfigError) as caught:
        parse_definition(doc, "work_injury.toml")
    assert "work_injury.toml" in caught.value.detail
    assert where in caught.value.detail


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_definition(tmp_path / "none.toml")


def test_condition_within_where() -> None:
    injured_liability = Condition(
        "/liability", ("main", "full"), within="/parties", where=Condition("/injured", (True,))
    )
    doc = {
        "parties": [
            {"injured": False, "liability": "main"},
            {"injured": True, "liability": "minor"},
        ]
    }
    assert not injured_liability.holds(doc)
    doc["parties"][1]["liability"] = "full"
    assert injured_liability.holds(doc)
    assert not injured_liability.holds({"parties": "none"})


def test_condition_does_not_confuse_true_and_one() -> None:
    assert Condition("/hospitalised", (True,)).holds({"hospitalised": True})
    assert not Condition("/hospitalised", (True,)).holds({"hospitalised": 1})
    assert not Condition("/hospitalised", (True,)).holds({})


def test_case_id_from_the_application_number(definition: CaseDefinition) -> None:
    assert definition.case_id_from("ZLB-GS-20260715-00731") == "GS-330784-2026-000731"
    assert definition.case_id_from("ZLB-GS-20261231-123456") == "GS-330784-2026-123456"
    assert definition.case_id_from("OTHER-7") == "OTHER-7"  # no match: used as it is


def test_condition_compares_with_the_form() -> None:
    form = {"applicant": {"id_number": "A"}, "injury": {"date": "2026-07-11"}}
    applicant_liable = Condition(
        "/liability",
        ("main", "full"),
        within="/parties",
        where=Condition("/id_number", form_pointer="/applicant/id_number"),
    )
    other_driver_liable = {
        "parties": [
            {"id_number": "B", "liability": "main"},
            {"id_number": "A", "liability": "minor"},
        ]
    }
    assert not applicant_liable.holds(other_driver_liable, form)
    other_driver_liable["parties"][1]["liability"] = "full"
    assert applicant_liable.holds(other_driver_liable, form)
    later = Condition("/enrolled_date", form_pointer="/injury/date", after=True)
    assert later.holds({"enrolled_date": "2026-07-12"}, form)
    assert not later.holds({"enrolled_date": "2026-07-11"}, form)
    assert not later.holds({}, form)


def test_match_reads_every_array_item_and_skips_absent_facts() -> None:
    form = {"applicant": {"id_number": "A"}, "injury": {"date": "2026-06-03"}}
    person = Match("/parties/*/id_number", "/applicant/id_number", "person")
    assert values_at(
        {"parties": [{"id_number": "B"}, {"id_number": "A"}]}, "/parties/*/id_number"
    ) == ["B", "A"]
    assert person.fault({"parties": [{"id_number": "B"}, {"id_number": "A"}]}, form) is None
    assert person.fault({"parties": [{"id_number": "B"}]}, form) is not None
    assert person.fault({"parties": []}, form) is None  # the material does not carry it
    day = Match("/accident_at", "/injury/date", "accident date", date=True)
    assert day.fault({"accident_at": "2026-06-03T07:25:00+08:00"}, form) is None
    assert "accident date" in (day.fault({"accident_at": "2026-09-13T18:40:00+08:00"}, form) or "")
