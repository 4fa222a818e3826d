"""What the medical insurance bureau's system reads: the same transaction style it exports.

Every received document becomes one inbound transaction::

    {"infno": "ZJX01", "msgid": <event id>, "inf_time": "YYYY-MM-DD HH:MM:SS" (Beijing),
     "sender": <department id>, "doc_type": <name>, "case_id": <case id or null>,
     "input": {"data": {...}}}

``ZJX01`` is a recognition decision (工伤认定结论通知), ``ZJX02`` an assessment conclusion,
``ZJX99`` any other document (``input.data`` is then the canonical document as it is). For
``ZJX01`` ``input.data`` is flat, in the platform's naming, so the bureau can switch a
patient's settlements to the work-injury fund: ``psn_name``, ``certno``, ``emp_name``,
``emp_uscc``, ``inj_date``, ``acdt_type``, ``rcgn_rslt`` (``1`` recognised, ``2`` deemed,
``0`` not recognised), ``decision_no``, ``decision_date``, ``diseinfo`` (``diag_code``,
``diag_name``, ``maindiag_flag``) and ``legal_basis``.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import orjson

from gateway.messages import CloudEvent

BEIJING = timezone(timedelta(hours=8))
RESULT = {"recognised": "1", "deemed": "2", "not_recognised": "0"}


def _decision(doc: dict[str, Any]) -> dict[str, Any]:
    worker, employer, injury = doc["worker"], doc["employer"], doc["injury"]
    return {
        "decision_no": doc["decision_number"],
        "psn_name": worker["name"],
        "certno": worker["id_number"],
        "emp_name": employer["name"],
        "emp_uscc": employer["credit_code"],
        "inj_date": injury["date"],
        "acdt_type": injury["accident_kind"],
        "rcgn_rslt": RESULT[doc["decision"]],
        "decision_date": doc["decided_date"],
        "legal_basis": doc["legal_basis"],
        "diseinfo": [
            {
                "diag_code": d["code"],
                "diag_name": d["name"],
                "maindiag_flag": "1" if d.get("primary") else "0",
            }
            for d in doc.get("diagnoses", [])
        ],
    }


def transaction(event: CloudEvent) -> dict[str, Any]:
    name = event.type.removeprefix("cn.gov.zj.injury.").removesuffix(".v1")
    if name == "recognition_decision":
        infno, data = "ZJX01", _decision(event.data)
    elif name == "assessment_conclusion":
        infno, data = "ZJX02", event.data
    else:
        infno, data = "ZJX99", event.data
    return {
        "infno": infno,
        "msgid": event.id,
        "inf_time": event.time.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        "sender": event.source,
        "doc_type": name,
        "case_id": event.subject or event.data.get("case_id"),
        "input": {"data": data},
    }


def to_native(event: CloudEvent) -> tuple[str, bytes]:
    return "json", orjson.dumps(transaction(event), option=orjson.OPT_INDENT_2)
