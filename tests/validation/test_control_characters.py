"""No document string holds control characters (C0 other than tab, line feed and carriage
return, and DEL): a NUL or an ESC in a name is refused at the place, never quoted."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.validation import SchemaRegistry
from tests.validation.conftest import EXAMPLES, load_json, type_of

DIAGNOSIS = type_of("medical_diagnosis")


def _diagnosis() -> dict[str, Any]:
    doc: dict[str, Any] = load_json(
        EXAMPLES / "medical_diagnosis" / "valid" / "finger_fracture.json"
    )
    return doc


CONTROLS = ["\x00", "\x1b", "\x07", "\x7f", "\x0b", "\x08", "\x0c", "\x1f"]


@pytest.mark.parametrize("control", CONTROLS)
def test_a_control_character_is_refused_at_its_place(
    registry: SchemaRegistry, control: str
) -> None:
    doc = _diagnosis()
    doc["patient"]["name"] = f"林{control}志明"
    doc["diagnoses"][0]["name"] += control
    found = [(v.pointer, v.message) for v in registry.validate(DIAGNOSIS, doc)]
    assert found == [
        ("/diagnoses/0/name", "holds control characters"),
        ("/patient/name", "holds control characters"),
    ]


def test_tab_and_line_breaks_in_free_text_are_text(registry: SchemaRegistry) -> None:
    doc = _diagnosis()
    doc["treatment_advice"] = "休息\t两周\r\n复查"
    assert registry.validate(DIAGNOSIS, doc) == []


def test_a_key_with_a_control_character_is_refused(registry: SchemaRegistry) -> None:
    doc = copy.deepcopy(_diagnosis())
    doc["patient"]["x\x00"] = "y"
    found = [(v.pointer, v.message) for v in registry.validate(DIAGNOSIS, doc)]
    assert ("/patient", "a member name holds control characters") in found


def test_a_backslash_before_a_letter_is_text(registry: SchemaRegistry) -> None:
    doc = _diagnosis()
    doc["treatment_advice"] = "见 \\b \\f \\u0001 \\\\u001b 段"  # backslashes, not controls
    assert registry.validate(DIAGNOSIS, doc) == []
