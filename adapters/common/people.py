"""People in canonical documents: the kind of their identity number (``id_kind``)."""

from __future__ import annotations

from typing import Any

from gateway.validation import identity

ID_NUMBER_LENGTH = 18


def with_id_kind(person: dict[str, Any], key: str = "id_number") -> dict[str, Any]:
    """Add ``id_kind`` as the number's first characters say it (a GB/T 2260 code: resident ID;
    810000/820000/830000: a residence permit; ``9``: a foreigners' permanent residence ID).

    The kind is told apart by shape alone, so the document states what the number is and the
    gateway checks the number against that kind's rule (``x-kind-formats``). A number of the
    wrong length gets no kind: the schema refuses it by its format. A kind the source system
    declared itself is kept (the gateway then checks the number against it).
    """
    number = person.get(key)
    if isinstance(number, str) and len(number) == ID_NUMBER_LENGTH:
        person.setdefault("id_kind", identity.kind_of(number))
    return person


def with_id_kinds(node: object) -> None:
    """``with_id_kind`` on every object of a nested document that holds an ``id_number``."""
    if isinstance(node, dict):
        if "id_number" in node:
            with_id_kind(node)
        for value in node.values():
            with_id_kinds(value)
    elif isinstance(node, list):
        for value in node:
            with_id_kinds(value)
