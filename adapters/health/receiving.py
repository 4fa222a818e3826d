"""What the hospital's system reads: a flat JSON summary, one object per received document.

Recognition decisions and assessment conclusions come back to the hospital (the designated
work-injury hospital bills the work-injury fund once a case is recognised). The summary is
flat (no nesting) so the HIS can map it field by field, HL7-style names in lower case::

    {"msg_type": "ZJX^R01", "msg_id": <event id>, "msg_time": "YYYYMMDDHHMMSS+0800",
     "sender": <department id>, "case_id": ...,
     "pid_name": ..., "pid_id_number": ..., "pid_gender": "M" | "F",
     "employer_name": ..., "employer_credit_code": ...,
     "injury_date": "YYYYMMDD", "accident_kind": ...,
     "result": "RECOGNISED" | "DEEMED" | "NOT_RECOGNISED", "result_zh": "认定为工伤" | ...,
     "document_number": ..., "decided_date": "YYYYMMDD",
     "dg1": "S62.6^右手中指...^ICD10^1~S61.0^...^ICD10^0"}  (text HL7-escaped, v2.5 2.7)

``ZJX^R01`` is a recognition decision, ``ZJX^A01`` an assessment conclusion (``result`` is
then the disability grade, ``"10"``, or ``"NONE"``; ``decided_date`` the conclusion date). Any
other document is ``ZJX^D99`` with the canonical fields flattened as dotted keys
(``patient.name``, ``diagnoses.0.code``).
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import orjson

from adapters.health.escapes import Delimiters
from gateway.messages import CloudEvent

BEIJING = timezone(timedelta(hours=8))
RESULT = {
    "recognised": ("RECOGNISED", "认定为工伤"),
    "deemed": ("DEEMED", "视同工伤"),
    "not_recognised": ("NOT_RECOGNISED", "不予认定工伤"),
}
GENDER = {"male": "M", "female": "F"}
#: the delimiters of the ``dg1`` composite: HL7 v2's defaults (v2.5 2.5.4)
HL7 = Delimiters("|", "^", "~", "\\", "&")


def _d(value: object) -> str | None:
    return str(value).replace("-", "") if value else None


def _dg1(diagnoses: list[dict[str, Any]]) -> str:
    return "~".join(
        "^".join([HL7.escaped(d["code"]), HL7.escaped(d["name"]), "ICD10", _primary(d)])
        for d in diagnoses
    )


def _primary(diagnosis: dict[str, Any]) -> str:
    return "1" if diagnosis.get("primary") else "0"


def _flatten(value: object, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}.", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}{i}.", out)
    else:
        out[prefix[:-1]] = value


def _person(doc: dict[str, Any], key: str) -> dict[str, Any]:
    person: dict[str, Any] = doc.get(key, {})
    return {
        "pid_name": person.get("name"),
        "pid_id_number": person.get("id_number"),
        "pid_gender": GENDER.get(str(person.get("gender"))),
    }


def summary(event: CloudEvent) -> dict[str, Any]:
    doc = event.data
    name = event.type.removeprefix("cn.gov.zj.injury.").removesuffix(".v1")
    head: dict[str, Any] = {
        "msg_id": event.id,
        "msg_time": event.time.astimezone(BEIJING).strftime("%Y%m%d%H%M%S+0800"),
        "sender": event.source,
        "case_id": event.subject or doc.get("case_id"),
    }
    if name == "recognition_decision":
        code, text = RESULT[doc["decision"]]
        return {
            "msg_type": "ZJX^R01",
            **head,
            **_person(doc, "worker"),
            "employer_name": doc["employer"]["name"],
            "employer_credit_code": doc["employer"]["credit_code"],
            "injury_date": _d(doc["injury"]["date"]),
            "accident_kind": doc["injury"]["accident_kind"],
            "result": code,
            "result_zh": text,
            "document_number": doc["decision_number"],
            "decided_date": _d(doc["decided_date"]),
            "dg1": _dg1(doc.get("diagnoses", [])),
        }
    if name == "assessment_conclusion":
        flat: dict[str, Any] = {}
        _flatten(doc, "", flat)
        grade = doc.get("disability_grade")
        return {
            "msg_type": "ZJX^A01",
            **head,
            **_person(doc, "worker"),
            "result": str(grade) if grade else "NONE",
            "document_number": doc.get("conclusion_number"),
            "decided_date": _d(doc.get("concluded_date")),
            **{f"doc.{k}": v for k, v in flat.items()},
        }
    flat = {}
    _flatten(doc, "", flat)
    return {"msg_type": "ZJX^D99", "doc_type": name, **head, **flat}


def to_native(event: CloudEvent) -> tuple[str, bytes]:
    return "json", orjson.dumps(summary(event), option=orjson.OPT_INDENT_2)
