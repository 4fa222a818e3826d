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
    wrong length gets no kind: the schema refuses it by its format.
    """
    number = person.get(key)
    if isinstance(number, str) and len(number) == ID_NUMBER_LENGTH:
        person["id_kind"] = identity.kind_of(number)
    return person
