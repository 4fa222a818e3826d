"""Every example under schemas/examples: valid ones pass, invalid ones fail where they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.validation import SchemaRegistry

from .conftest import EXAMPLES, load_json, type_of

NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
VALID = sorted(EXAMPLES.glob("*/valid/*.json"))
INVALID = sorted(p for p in EXAMPLES.glob("*/invalid/*.json") if p.name != "expected.json")


def _id(path: Path) -> str:
    return f"{path.parents[1].name}/{path.stem}"


def test_every_type_has_examples(registry: SchemaRegistry) -> None:
    assert sorted(type_of(n) for n in NAMES) == registry.types()
    for name in NAMES:
        assert len(list((EXAMPLES / name / "valid").glob("*.json"))) >= 2, name
        expected = load_json(EXAMPLES / name / "invalid" / "expected.json")
        assert len(expected) >= 3, name
        on_disk = {p.name for p in (EXAMPLES / name / "invalid").glob("*.json")} - {"expected.json"}
        assert on_disk == set(expected), name


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_valid_example_passes(registry: SchemaRegistry, path: Path) -> None:
    doc_type = type_of(path.parents[1].name)
    assert registry.validate(doc_type, load_json(path)) == []


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_valid_example_passes_the_slow_validator_too(registry: SchemaRegistry, path: Path) -> None:
    """The two validators must agree, or the fast path would accept what the slow one refuses."""
    entry = registry._entries[type_of(path.parents[1].name)]
    assert list(entry.full.iter_errors(load_json(path))) == []


@pytest.mark.parametrize("path", INVALID, ids=_id)
def test_invalid_example_fails_at_its_pointer(registry: SchemaRegistry, path: Path) -> None:
    expected = load_json(path.parent / "expected.json")[path.name]
    violations = registry.validate(type_of(path.parents[1].name), load_json(path))
    assert violations, "an invalid example passed"
    assert {v.pointer for v in violations} == {expected["pointer"]}, violations


@pytest.mark.parametrize("path", INVALID, ids=_id)
def test_invalid_example_fails_the_fast_validator_too(registry: SchemaRegistry, path: Path) -> None:
    """Schema faults must be caught by the compiled validator; date order by the keyword."""
    entry = registry._entries[type_of(path.parents[1].name)]
    doc = load_json(path)
    try:
        entry.fast(doc)
    except Exception:
        return
    assert "dates out of order" in registry.validate(entry.type, doc)[0].message


def test_examples_use_valid_identifiers() -> None:
    """Synthetic people and companies still carry correct check characters (see README)."""
    from gateway.validation import is_resident_id, is_uscc

    ids: list[str] = []
    codes: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "id_number" and isinstance(value, str):
                    ids.append(value)
                elif key == "credit_code" and isinstance(value, str):
                    codes.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in VALID:
        walk(load_json(path))
    assert ids and codes
    assert all(is_resident_id(i) for i in ids)
    assert all(is_uscc(c) for c in codes)
