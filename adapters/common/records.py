"""Canonical records ready to send, local validation and deterministic event ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from adapters.common.errors import AdapterError, Problem
from gateway.packaged import default_schema_dir
from gateway.validation import SchemaRegistry

PREFIX = "cn.gov.zj.injury."
#: namespace of the adapters' deterministic event ids (uuid5)
ID_NAMESPACE = uuid.UUID("6d1f3c1e-7a43-5b7e-9b0e-2f4d1c0a9e51")


def doc_type(name: str) -> str:
    return f"{PREFIX}{name}.v1"


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(default_schema_dir())


def event_id_for(department: str, type_: str, key: str) -> str:
    """The same native record (same department, type and record key) always gets the same
    event id, so sending it again is recognised by the gateway as the same message."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{department}\n{type_}\n{key}"))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One canonical document, validated, with where it came from."""

    type: str
    data: dict[str, Any]
    key: str  # the native record key (document number, batch record key)
    file: str
    place: str

    @property
    def subject(self) -> str | None:
        case_id = self.data.get("case_id")
        return case_id if isinstance(case_id, str) else None


@dataclass(slots=True)
class Parsed:
    """What a native file gave: the good records and the refused ones."""

    records: list[Outgoing] = field(default_factory=list)
    errors: list[AdapterError] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.records.extend(other.records)
        self.errors.extend(other.errors)


def validate_local(type_: str, data: dict[str, Any], file: str, place: str) -> None:
    """Validate against the gateway's own schemas before anything is signed; the error names
    the file, the record's place and the canonical field (JSON Pointer), never the value."""
    violations = registry().validate(type_, data)
    if violations:
        raise AdapterError(
            [Problem(file, place, v.pointer or "(document)", v.message) for v in violations]
        )


def outgoing(type_: str, data: dict[str, Any], key: str, file: str, place: str) -> Outgoing:
    validate_local(type_, data, file, place)
    return Outgoing(type_, data, key, file, place)
