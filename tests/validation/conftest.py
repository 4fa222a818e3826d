"""Fixtures for the validation tests: the repository's schemas, compiled once per session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.packaged import default_schema_dir
from gateway.validation import SchemaRegistry

PREFIX = "cn.gov.zj.injury."
EXAMPLES = default_schema_dir() / "examples"


def type_of(name: str) -> str:
    return f"{PREFIX}{name}.v1"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(default_schema_dir())


@pytest.fixture()
def application() -> dict[str, Any]:
    """A valid application form (the press accident of 11 July 2026), fresh per test."""
    doc: dict[str, Any] = load_json(
        EXAMPLES / "application_form" / "valid" / "workplace_press.json"
    )
    return doc
