"""HL7 v2 messages (``hl7`` library) -> canonical documents.

ADT^A01 (admit) and ADT^A03 (discharge) give ``admission_discharge_record``; ORU^R01 gives
``imaging_lab_report``. The segments and fields read are documented in README.md. Errors name
the file, the segment (with its line) and the field (``PID-3``), never the value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import hl7

from adapters.common.errors import AdapterError
from adapters.common.records import Outgoing, doc_type, outgoing
from adapters.health.common import institution, ts_date, ts_moment

HOSPITAL_STAY = doc_type("admission_discharge_record")
REPORT = doc_type("imaging_lab_report")
ID_CARD_OID = "2.16.156.10011.1.3"
ICD10_SYSTEMS = frozenset({"ICD10", "I10", "2.16.156.10011.2.3.3.11"})
GENDER = {"M": "male", "F": "female"}
FLAG = {"N": "normal", "H": "high", "L": "low", "A": "abnormal", "HH": "high", "LL": "low"}
SECTION = {
    "LAB": "laboratory", "HM": "laboratory", "CH": "laboratory", "CR": "x_ray", "DX": "x_ray",
    "RAD": "x_ray", "CT": "ct", "MR": "mri", "US": "ultrasound", "OTH": "other",
}  # fmt: skip
CONDITION = {"1": "cured", "2": "improved", "3": "not_cured", "4": "died", "9": "other"}
TEXT_ITEMS = {"FINDINGS": "findings", "IMPRESSION": "impression"}


class _Msg:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        normalized = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r")
        if not normalized.startswith("MSH|"):
            raise AdapterError.one(file, "line 1", "MSH", "an HL7 v2 message starts with MSH")
        try:
            self.msg = hl7.parse(normalized)
        except Exception:  # the library raises several kinds on broken input
            raise AdapterError.one(file, "line 1", "MSH", "not a parsable HL7 v2 message") from None
        self.lines = {id(seg): i for i, seg in enumerate(self.msg, start=1)}

    def where(self, seg: Any) -> str:
        return f"line {self.lines.get(id(seg), '?')}, segment {seg[0]}"

    def fail(self, seg: Any, field: str, reason: str) -> AdapterError:
        return AdapterError.one(self.file, self.where(seg), field, reason)

    def segment(self, name: str) -> Any:
        for seg in self.msg:
            if str(seg[0]) == name:
                return seg
        raise AdapterError.one(self.file, "message", name, "segment is missing")

    def segments(self, name: str) -> list[Any]:
        return [seg for seg in self.msg if str(seg[0]) == name]

    def get(self, seg: Any, f: int, comp: int = 1, sub: int = 1, rep: int = 1) -> str:
        index = f  # the hl7 library keeps MSH-1 (the separator) as field 1
        if len(seg) <= index:
            return ""
        parts = str(seg[index]).split("~")
        if len(parts) < rep:
            return ""
        comps = parts[rep - 1].split("^")
        if len(comps) < comp:
            return ""
        subs = comps[comp - 1].split("&")
        value = subs[sub - 1] if len(subs) >= sub else ""
        return str(self.msg.unescape(value)).strip()

    def reps(self, seg: Any, f: int) -> int:
        return len(str(seg[f]).split("~")) if len(seg) > f else 0

    def req(self, seg: Any, f: int, comp: int = 1, sub: int = 1) -> str:
        value = self.get(seg, f, comp, sub)
        if not value:
            raise self.fail(seg, _name(seg, f, comp), "is missing")
        return value

    def conv(
        self, seg: Any, f: int, fn: Callable[[str], str], what: str, required: bool = True
    ) -> str | None:
        value = self.get(seg, f)
        if not value:
            if required:
                raise self.fail(seg, _name(seg, f), "is missing")
            return None
        try:
            return fn(value)
        except ValueError:
            raise self.fail(seg, _name(seg, f), f"not {what}") from None

    def code(self, seg: Any, f: int, mapping: dict[str, str], comp: int = 1) -> str:
        value = self.req(seg, f, comp)
        if value not in mapping:
            raise self.fail(seg, _name(seg, f, comp), "not one of " + " ".join(sorted(mapping)))
        return mapping[value]


def _name(seg: Any, f: int, comp: int = 1) -> str:
    return f"{seg[0]}-{f}" + (f".{comp}" if comp > 1 else "")


def _put(doc: dict[str, Any], key: str, value: object) -> None:
    if value:
        doc[key] = value


def _patient(m: _Msg) -> dict[str, Any]:
    pid = m.segment("PID")
    id_number = None
    for rep in range(1, m.reps(pid, 3) + 1):
        if m.get(pid, 3, 4, 2, rep) == ID_CARD_OID or m.get(pid, 3, 5, 1, rep) == "NNCHN":
            id_number = m.get(pid, 3, 1, 1, rep)
    if not id_number:
        raise m.fail(pid, "PID-3", f"no resident ID number (assigning authority {ID_CARD_OID})")
    patient: dict[str, Any] = {"name": m.req(pid, 5), "id_number": id_number}
    if m.get(pid, 8):
        patient["gender"] = m.code(pid, 8, GENDER)
    _put(patient, "birth_date", m.conv(pid, 7, ts_date, "a date (YYYYMMDD)", required=False))
    _put(patient, "phone", m.get(pid, 13))
    return patient


def _hospital(m: _Msg) -> dict[str, Any]:
    msh = m.segment("MSH")
    if m.get(msh, 4, 3) != "USCC":
        raise m.fail(msh, "MSH-4.3", "the sending facility is identified by its USCC")
    return institution(m.req(msh, 4), m.req(msh, 4, 2))


def _case_id(m: _Msg) -> str | None:
    zjx = m.segments("ZJX")
    return m.get(zjx[0], 1) or None if zjx else None


def _diagnoses(m: _Msg, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    found = []
    for dg1 in m.segments("DG1"):
        if m.get(dg1, 6) not in kinds:
            continue
        system = m.get(dg1, 3, 3)
        if system not in ICD10_SYSTEMS:
            raise m.fail(dg1, "DG1-3.3", "the coding system must be ICD-10 (GB/T 14396)")
        found.append(
            {"code": m.req(dg1, 3), "name": m.req(dg1, 3, 2), "primary": m.get(dg1, 15) == "1"}
        )
    return found


def _doctor(m: _Msg, seg: Any, f: int) -> dict[str, Any]:
    doctor: dict[str, Any] = {"name": m.req(seg, f, 2)}
    _put(doctor, "licence_number", m.get(seg, f, 1))
    return doctor


def hospital_stay(m: _Msg, event: str) -> dict[str, Any]:
    pv1 = m.segment("PV1")
    doc: dict[str, Any] = {}
    _put(doc, "case_id", _case_id(m))
    doc["inpatient_number"] = m.req(pv1, 19)
    doc["record_kind"] = "admission" if event == "A01" else "discharge"
    doc["patient"] = _patient(m)
    doc["hospital"] = _hospital(m)
    _put(doc, "department", m.get(pv1, 3))
    acc = m.segments("ACC")
    if acc:
        _put(doc, "injury_date", m.conv(acc[0], 1, ts_date, "a date", required=False))
    doc["admitted_at"] = m.conv(pv1, 44, ts_moment, "a time (YYYYMMDDHHMM[SS])")
    admission = _diagnoses(m, ("A",))
    if not admission:
        raise AdapterError.one(m.file, "message", "DG1", "no admitting diagnosis (DG1-6 = A)")
    if event == "A03":
        doc["discharged_at"] = m.conv(pv1, 45, ts_moment, "a time (YYYYMMDDHHMM[SS])")
    doc["admission_diagnoses"] = admission
    if event == "A03":
        doc["discharge_diagnoses"] = _diagnoses(m, ("F",))
        operations = []
        for pr1 in m.segments("PR1"):
            op: dict[str, Any] = {"name": m.req(pr1, 3, 2)}
            _put(op, "code", m.get(pr1, 3))
            op["date"] = m.conv(pr1, 5, ts_date, "a date")
            operations.append(op)
        _put(doc, "operations", operations)
        zjx = m.segments("ZJX")
        if zjx:
            _put(doc, "course_of_treatment", m.get(zjx[0], 3))
            if m.get(zjx[0], 2):
                doc["discharge_condition"] = m.code(zjx[0], 2, CONDITION)
            _put(doc, "discharge_advice", m.get(zjx[0], 4))
        if doc["admitted_at"] and doc["discharged_at"]:
            stay = date.fromisoformat(doc["discharged_at"][:10]) - date.fromisoformat(
                doc["admitted_at"][:10]
            )
            doc["length_of_stay_days"] = max(stay.days, 1)
    doc["attending_doctor"] = _doctor(m, pv1, 7)
    return doc


def report(m: _Msg) -> dict[str, Any]:
    obr = m.segment("OBR")
    doc: dict[str, Any] = {}
    _put(doc, "case_id", _case_id(m))
    doc["report_number"] = m.req(obr, 3)
    doc["report_kind"] = m.code(obr, 24, SECTION)
    doc["patient"] = _patient(m)
    doc["hospital"] = _hospital(m)
    pv1 = m.segments("PV1")
    if pv1:
        _put(doc, "requesting_department", m.get(pv1[0], 3))
    _put(doc, "examined_part", m.get(obr, 15))
    _put(doc, "requested_at", m.conv(obr, 6, ts_moment, "a time", required=False))
    doc["examined_at"] = m.conv(obr, 7, ts_moment, "a time (YYYYMMDDHHMM[SS])")
    doc["reported_at"] = m.conv(obr, 22, ts_moment, "a time (YYYYMMDDHHMM[SS])")
    results = []
    for obx in m.segments("OBX"):
        item = m.req(obx, 3, 2)
        if m.get(obx, 3) in TEXT_ITEMS:
            doc[TEXT_ITEMS[m.get(obx, 3)]] = m.req(obx, 5)
            continue
        result: dict[str, Any] = {"item": item, "value": m.req(obx, 5)}
        _put(result, "unit", m.get(obx, 6))
        _put(result, "reference_range", m.get(obx, 7))
        if m.get(obx, 8):
            result["flag"] = m.code(obx, 8, FLAG)
        results.append(result)
    _put(doc, "results", results)
    doc["reporting_doctor"] = _doctor(m, obr, 32)
    if m.get(obr, 33, 2):
        doc["reviewing_doctor"] = _doctor(m, obr, 33)
    return doc


def parse_hl7(text: str, file: str) -> Outgoing:
    m = _Msg(text, file)
    msh = m.segment("MSH")
    kind, event = m.get(msh, 9, 1), m.get(msh, 9, 2)
    if (kind, event) in (("ADT", "A01"), ("ADT", "A03")):
        data = hospital_stay(m, event)
        key = f"{data['inpatient_number']}/{data['record_kind']}"
        return outgoing(HOSPITAL_STAY, data, key, file, f"message {m.req(msh, 10)}")
    if (kind, event) == ("ORU", "R01"):
        data = report(m)
        return outgoing(REPORT, data, data["report_number"], file, f"message {m.req(msh, 10)}")
    raise m.fail(msh, "MSH-9", "not one of ADT^A01 ADT^A03 ORU^R01")
