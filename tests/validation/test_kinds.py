"""``x-kind-formats``: a document's ``id_kind`` and ``code_edition`` decide the rule its value
must satisfy, and a refusal names that rule and the place, never the value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.problems import ConfigError
from gateway.validation import SchemaRegistry
from tests.validation.conftest import EXAMPLES, load_json, type_of

DIAGNOSIS = type_of("medical_diagnosis")


def _diagnosis() -> dict[str, Any]:
    doc: dict[str, Any] = load_json(
        EXAMPLES / "medical_diagnosis" / "valid" / "finger_fracture.json"
    )
    return doc


def test_every_kind_of_identity_number_is_accepted_with_its_kind(registry: SchemaRegistry) -> None:
    for kind, number in [
        ("resident", "330784198603140511"),
        ("hk_residence_permit", "810000199408230021"),
        ("mo_residence_permit", "820000199408230023"),
        ("tw_residence_permit", "830000199408230025"),
        ("foreign_permanent_residence", "933840198001010019"),
    ]:
        doc = _diagnosis()
        doc["patient"]["id_number"], doc["patient"]["id_kind"] = number, kind
        assert registry.validate(DIAGNOSIS, doc) == [], kind


def test_a_number_of_another_kind_is_refused_naming_the_kind_rule(
    registry: SchemaRegistry,
) -> None:
    doc = _diagnosis()
    doc["patient"]["id_number"] = "810000199408230021"  # a Hong Kong permit
    doc["patient"]["id_kind"] = "tw_residence_permit"
    [violation] = registry.validate(DIAGNOSIS, doc)
    assert violation.pointer == "/patient/id_number"
    assert "region code part must be 830000" in violation.message
    assert "(id_kind tw_residence_permit)" in violation.message
    assert "810000199408230021" not in violation.message


def test_a_code_of_another_edition_is_refused_naming_the_edition(
    registry: SchemaRegistry,
) -> None:
    doc = _diagnosis()
    doc["diagnoses"][0]["code"] = "S62.600x001"
    doc["diagnoses"][0]["code_edition"] = "cn_clinical_2.0"
    assert registry.validate(DIAGNOSIS, doc) == []
    doc["diagnoses"][0]["code_edition"] = "who"
    [violation] = registry.validate(DIAGNOSIS, doc)
    assert violation.pointer == "/diagnoses/0/code"
    assert violation.message.startswith("not a code of ICD-10, WHO edition")


def test_a_historic_region_code_is_not_a_place_today(registry: SchemaRegistry) -> None:
    doc = _diagnosis()
    doc["hospital"]["region_code"] = "330722"  # 永康县, until 1992
    [violation] = registry.validate(DIAGNOSIS, doc)
    assert violation.pointer == "/hospital/region_code"
    assert "not a current region code" in violation.message


def test_a_number_its_format_refuses_is_reported_once(registry: SchemaRegistry) -> None:
    doc = _diagnosis()
    doc["patient"]["id_number"] = "330784198603140512"  # check character wrong
    doc["patient"]["id_kind"] = "resident"
    [violation] = registry.validate(DIAGNOSIS, doc)
    assert violation.pointer == "/patient/id_number"
    assert violation.message.endswith("(GB 11643 check character)")


def test_a_kind_rule_no_object_declares_stops_the_load(tmp_path: Path) -> None:
    name = "cn.gov.zj.injury.business_licence.v1.schema.json"
    schema = json.loads((EXAMPLES.parent / name).read_text("utf-8"))
    schema["x-kind-formats"] = [
        {"value": "id_number", "kind": "id_kind", "kind_format": "id-{kind}"}
    ]
    (tmp_path / name).write_text(json.dumps(schema), "utf-8")
    with pytest.raises(
        ConfigError, match=r"x-kind-formats\[0\]: no object of the schema declares id_kind"
    ):
        SchemaRegistry.load(tmp_path)
