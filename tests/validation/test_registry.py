"""SchemaRegistry: loading, the fast and slow paths, messages without values, date order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.packaged import default_schema_dir
from gateway.problems import ConfigError, DocumentError, Violation
from gateway.validation import SchemaRegistry
from gateway.validation.registry import split_pointer, to_pointer

from .conftest import type_of

APP = type_of("application_form")
PLANTED_ID = "11010519491231002X"  # valid: planted where it is not allowed, or broken
PLANTED_BAD_ID = "110105194912310021"  # wrong check character


def _messages(violations: list[Violation]) -> str:
    return "\n".join(f"{v.pointer} {v.message}" for v in violations)


def test_loads_all_twenty_one_types(registry: SchemaRegistry) -> None:
    types = registry.types()
    assert len(types) == 21  # 17 documents, 3 process messages, the employer statement
    assert APP in types and type_of("benefit_payment_record") in types
    assert registry.schema_id(APP) == f"urn:zj-exchange:schema:{APP}"
    assert APP in registry


def test_default_schema_dir_is_the_repository_schemas() -> None:
    assert default_schema_dir().name == "schemas"
    assert (default_schema_dir() / f"{APP}.schema.json").is_file()


def test_schema_is_a_copy(registry: SchemaRegistry) -> None:
    schema = registry.schema(APP)
    assert schema["x-title-zh"] == "简易工伤一件事申请表"
    schema["properties"].clear()
    assert registry.schema(APP)["properties"]


@pytest.mark.parametrize("name", sorted(p.name for p in default_schema_dir().glob("*.json")))
def test_every_schema_follows_the_conventions(name: str) -> None:
    schema = json.loads((default_schema_dir() / name).read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["title"] and schema["x-title-zh"] and schema["description"]
    assert "case_id" in schema["properties"]

    def closed(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, name
            for value in node.values():
                closed(value)
        elif isinstance(node, list):
            for value in node:
                closed(value)

    closed(schema)


@pytest.mark.parametrize(
    "name",
    [
        "recognition_decision",
        "assessment_conclusion",
        "material_request",
        "case_notice",
        "benefit_payment_record",
    ],
)
def test_case_layer_types_require_case_id(registry: SchemaRegistry, name: str) -> None:
    assert "case_id" in registry.schema(type_of(name))["required"]


def test_valid_document(registry: SchemaRegistry, application: dict[str, Any]) -> None:
    assert registry.validate(APP, application) == []
    registry.check(APP, application)  # does not raise


def test_every_problem_is_listed(registry: SchemaRegistry, application: dict[str, Any]) -> None:
    application["applicant"]["id_number"] = PLANTED_BAD_ID
    del application["employer"]
    application["foo"] = 1
    application["injury"]["region_code"] = "990784"
    application["payee_account_ref"]["account_last4"] = 6617
    got = {(v.pointer, v.message) for v in registry.validate(APP, application)}
    assert got == {
        (
            "/applicant/id_number",
            "not a valid resident ID number (居民身份证) (GB 11643 check character)",
        ),
        ("", "required property 'employer' is missing"),
        ("/foo", "additional property 'foo' is not allowed"),
        ("/injury/region_code", "not a valid region code (not in the GB/T 2260 table)"),
        ("/payee_account_ref/account_last4", "must be a string"),
    }


def test_messages_never_contain_the_offending_value(
    registry: SchemaRegistry, application: dict[str, Any]
) -> None:
    application["applicant"]["id_number"] = PLANTED_BAD_ID
    application["applicant"]["phone"] = PLANTED_ID  # a valid ID number where a phone belongs
    application["applicant"]["name"] = PLANTED_ID * 5  # too long
    application["injury"]["accident_kind"] = PLANTED_ID
    application["injury"]["time"] = PLANTED_ID
    application["employer"]["credit_code"] = PLANTED_ID
    application["hospital"]["first_visit_date"] = PLANTED_ID
    application["hospitalised"] = PLANTED_ID
    application["payee_account_ref"]["account_last4"] = PLANTED_ID
    violations = registry.validate(APP, application)
    assert len(violations) == 9
    text = _messages(violations)
    assert PLANTED_ID not in text and PLANTED_BAD_ID not in text
    assert "19491231" not in text and "110105" not in text
    with pytest.raises(DocumentError) as caught:
        registry.check(APP, application)
    body = json.dumps(caught.value.problem_body(), ensure_ascii=False)
    assert PLANTED_ID not in body and PLANTED_BAD_ID not in body


def test_check_raises_invalid_document(
    registry: SchemaRegistry, application: dict[str, Any]
) -> None:
    del application["injury"]["body_part"]
    with pytest.raises(DocumentError) as caught:
        registry.check(APP, application)
    exc = caught.value
    assert exc.slug == "invalid-document" and exc.status == 422
    assert exc.violations == [Violation("/injury", "required property 'body_part' is missing")]
    assert exc.extra["document_type"] == APP
    assert exc.problem_body()["errors"] == [
        {"pointer": "/injury", "detail": "required property 'body_part' is missing"}
    ]


@pytest.mark.parametrize("call", ["validate", "check", "schema_id", "schema"])
def test_unknown_type(registry: SchemaRegistry, call: str) -> None:
    with pytest.raises(DocumentError) as caught:
        if call in ("validate", "check"):
            getattr(registry, call)("cn.gov.zj.injury.nonsense.v1", {})
        else:
            getattr(registry, call)("cn.gov.zj.injury.nonsense.v1")
    assert caught.value.slug == "unknown-type" and caught.value.status == 422


@pytest.mark.parametrize("data", [None, [], "text", 3, True])
def test_document_must_be_an_object(registry: SchemaRegistry, data: object) -> None:
    assert registry.validate(APP, data) == [Violation("", "must be an object")]


# --- x-date-order -------------------------------------------------------------------------------


def test_date_order_reports_the_later_date(
    registry: SchemaRegistry, application: dict[str, Any]
) -> None:
    application["employer_report"]["reported_date"] = "2026-07-10"  # before the injury
    assert registry.validate(APP, application) == [
        Violation(
            "/employer_report/reported_date", "must not be before /injury/date (dates out of order)"
        )
    ]


def test_date_order_compares_a_date_with_a_date_time_by_day(
    registry: SchemaRegistry, application: dict[str, Any]
) -> None:
    application["submitted_at"] = "2026-07-11T00:05:00+08:00"  # same day as the injury: fine
    assert registry.validate(APP, application) == []
    application["submitted_at"] = "2026-07-10T23:59:59+08:00"
    assert [v.pointer for v in registry.validate(APP, application)] == ["/submitted_at"]


def test_date_order_skips_missing_and_unparsable(
    registry: SchemaRegistry, application: dict[str, Any]
) -> None:
    del application["applicant"]["employment_start_date"]
    del application["hospital"]["first_visit_date"]
    assert registry.validate(APP, application) == []
    application["injury"]["date"] = "yesterday"
    assert registry.validate(APP, application) == [
        Violation(
            "/injury/date", "not a valid date (RFC 3339 full-date YYYY-MM-DD, a real calendar day)"
        )
    ]


def test_date_order_chain_skips_over_a_gap(registry: SchemaRegistry) -> None:
    """birth <= employment start <= injury <= first visit, with the middle ones missing."""
    doc = json.loads(
        (default_schema_dir() / "examples/application_form/valid/workplace_press.json").read_text(
            encoding="utf-8"
        )
    )
    del doc["applicant"]["employment_start_date"]
    doc["applicant"]["birth_date"] = "2026-08-01"
    got = registry.validate(APP, doc)
    assert (
        Violation("/injury/date", "must not be before /applicant/birth_date (dates out of order)")
        in got
    )


# --- loading --------------------------------------------------------------------------------


def _one_schema_dir(tmp_path: Path, name: str = "application_form") -> Path:
    t = type_of(name)
    shutil.copy(default_schema_dir() / f"{t}.schema.json", tmp_path / f"{t}.schema.json")
    return tmp_path / f"{t}.schema.json"


def _edit(path: Path, change: Any) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(json.dumps(schema), encoding="utf-8")


def test_load_a_directory_of_one(tmp_path: Path) -> None:
    _one_schema_dir(tmp_path)
    assert SchemaRegistry.load(tmp_path).types() == [APP]


def test_broken_json_names_the_file(tmp_path: Path) -> None:
    path = _one_schema_dir(tmp_path)
    path.write_text(path.read_text(encoding="utf-8")[:-20], encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path.name}: not valid JSON"):
        SchemaRegistry.load(tmp_path)


def test_duplicate_key_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / f"{APP}.schema.json"
    path.write_text('{"type": "object", "type": "array"}', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path.name}: .*duplicate key 'type'"):
        SchemaRegistry.load(tmp_path)


def test_invalid_draft_07_schema_names_the_file_and_place(tmp_path: Path) -> None:
    path = _one_schema_dir(tmp_path)
    _edit(path, lambda s: s["properties"]["injury"].__setitem__("required", "date"))
    with pytest.raises(ConfigError) as caught:
        SchemaRegistry.load(tmp_path)
    assert path.name in str(caught.value)
    assert "not a valid draft-07 schema at /properties/injury/required" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (
            lambda s: s.__setitem__("$schema", "https://json-schema.org/draft/2020-12/schema"),
            "$schema",
        ),
        (lambda s: s.__setitem__("$id", "urn:zj-exchange:schema:other"), "$id must be"),
        (
            lambda s: s["properties"]["submitted_at"].__setitem__("format", "email"),
            "unknown format",
        ),
        (lambda s: s.__setitem__("x-date-order", [["/injury/date"]]), "at least two"),
        (
            lambda s: s.__setitem__("x-date-order", [["/injury/dat", "/submitted_at"]]),
            "not a property",
        ),
        (lambda s: s.__setitem__("x-date-order", "/injury/date"), "must be a list"),
        (
            lambda s: s["properties"].__setitem__("bad", {"$ref": "#/definitions/missing"}),
            "cannot be compiled",
        ),
    ],
)
def test_schema_faults_name_the_file(tmp_path: Path, change: Any, fault: str) -> None:
    path = _one_schema_dir(tmp_path)
    _edit(path, change)
    with pytest.raises(ConfigError) as caught:
        SchemaRegistry.load(tmp_path)
    assert str(caught.value).startswith(path.name) and fault in str(caught.value)


def test_not_an_object(tmp_path: Path) -> None:
    (tmp_path / f"{APP}.schema.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a JSON object"):
        SchemaRegistry.load(tmp_path)


def test_empty_or_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="holds no"):
        SchemaRegistry.load(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        SchemaRegistry.load(tmp_path / "nowhere")


def test_pointer_helpers() -> None:
    assert to_pointer([]) == ""
    assert to_pointer(["a/b", "c~d", 0]) == "/a~1b/c~0d/0"
    assert split_pointer("/a~1b/c~0d/0") == ("a/b", "c~d", "0")
    assert split_pointer("") == ()


def test_trailing_newline_is_refused_though_jsonschema_would_accept_it(
    registry: SchemaRegistry, application: dict[str, Any]
) -> None:
    """fastjsonschema anchors ``$`` at the true end; the stricter answer wins."""
    application["case_id"] = "GS-330784-2026-000731\n"
    assert registry.validate(APP, application) == [
        Violation(
            "/case_id", "does not match the required pattern ^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
        )
    ]
