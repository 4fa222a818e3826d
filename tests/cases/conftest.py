"""Fixtures for the case layer: the shipped definition and the example documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.cases import CaseDefinition, load_definition

REPO = Path(__file__).resolve().parents[2]
PREFIX = "cn.gov.zj.injury."


def doc_type(name: str) -> str:
    return f"{PREFIX}{name}.v1"


def example(name: str, file: str) -> dict[str, Any]:
    """A valid example document kept beside the schemas (a fresh copy each time)."""
    path = REPO / "schemas" / "examples" / name / "valid" / f"{file}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


@pytest.fixture(scope="session")
def definition() -> CaseDefinition:
    return load_definition(REPO / "config" / "cases" / "work_injury.toml")
