"""The case id a message names twice must be one: the event's ``subject`` and its document's
``case_id`` (DESIGN sections 3 and 10).

Why at acceptance: a diagnosis filed under one case but naming another in its body would be
counted for the first and shown to the second's parties; refusing it at the door (422, both
JSON Pointers named) costs the sender one correction and keeps every case's timeline true.
A message that carries only one of the two is not checked: documents outside a case carry
neither, and an application form has no case id yet.
"""

from __future__ import annotations

from typing import Any

from gateway.problem_types import CASE_ID_MISMATCH
from gateway.problems import DocumentError, Violation

SUBJECT = "/subject"
CASE_ID = "/data/case_id"


def check_case_id(subject: str | None, data: Any) -> None:
    """Raise ``DocumentError`` (422 ``case-id-mismatch``) when ``subject`` and ``data.case_id``
    are both present and differ. The ids are not personal data; the error still names only
    the pointers, the sender has the values."""
    case_id = data.get("case_id") if isinstance(data, dict) else None
    if subject is None or not isinstance(case_id, str) or case_id == subject:
        return
    raise DocumentError(
        "the event's subject and the document's case_id name different cases; "
        "send the document under the case it belongs to",
        problem=CASE_ID_MISMATCH,
        violations=[
            Violation(SUBJECT, "differs from /data/case_id"),
            Violation(CASE_ID, "differs from /subject"),
        ],
    )
