"""Reading a case definition: the shipped one loads, mistakes are named by file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.assembly import load_case_definition
from gateway.cases import CaseDefinition, load_definition
from gateway.cases.definition import Condition, parse_definition
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
            lambda d: d["stages"][0]["materials"][6].pop("refuse_reason"),
            "stages[0].materials[6].refuse_reason",
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
        "/liability", ("main", "full"), "/parties", Condition("/injured", (True,))
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
