"""HL7 v2 messages (``hl7`` library for the parse tree) -> canonical documents.

ADT^A01 (admit) and ADT^A03 (discharge) give ``admission_discharge_record``; ORU^R01 gives
``imaging_lab_report``. The segments and fields read are documented in README.md. Errors name
the file, the segment (with its line) and the field (``PID-3``), never the value.

As the standard writes it (HL7 v2.5 chapter 2): the delimiters are those MSH-1/MSH-2 declare;
text is unescaped per 2.7 (``escapes.py``); ``""`` is an explicit null (the field is absent
from the document, and a required field that is null is refused as such); names are whole
(XPN / XCN family and given names); phones come from XTN; DG1-6 says which diagnoses are the
admission's and which the discharge's. The sending institution is MSH-4 when it carries a
credit code (``^USCC``), else the institution the adapter is configured with (``--institution``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import hl7

from adapters.common.coding import CodeSet, load_coding, split_pair
from adapters.common.errors import AdapterError
from adapters.common.people import with_id_kind
from adapters.common.records import Outgoing, doc_type, outgoing
from adapters.common.settings import Institution
from adapters.health.common import institution, ts_date, ts_moment
from adapters.health.escapes import NULL, Delimiters

HOSPITAL_STAY = doc_type("admission_discharge_record")
REPORT = doc_type("imaging_lab_report")
ID_CARD_OID = "2.16.156.10011.1.3"
USCC_TYPE = "USCC"
GENDER = {"M": "male", "F": "female"}
FLAG = {"N": "normal", "H": "high", "L": "low", "A": "abnormal", "HH": "high", "LL": "low"}
SECTION = {
    "LAB": "laboratory", "HM": "laboratory", "CH": "laboratory", "CR": "x_ray", "DX": "x_ray",
    "RAD": "x_ray", "CT": "ct", "MR": "mri", "US": "ultrasound", "OTH": "other",
}  # fmt: skip
CONDITION = {"1": "cured", "2": "improved", "3": "not_cured", "4": "died", "9": "other"}
TEXT_ITEMS = {"FINDINGS": "findings", "IMPRESSION": "impression"}
#: DG1-6 diagnosis type (HL7 table 0052): A admitting, W working, F final
DIAGNOSIS_TYPES = {"A": "admission", "W": "working", "F": "discharge"}
#: MSH-18 character set (HL7 table 0211) -> codec for \Xhh\ sequences
CHARSETS = {
    "": "utf-8", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8",
    "GB 18030-2000": "gb18030", "GB18030": "gb18030",
}  # fmt: skip
CODING = load_coding("adapters.health", "coding.toml")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff·]+")


class _Msg:
    def __init__(self, text: str, file: str, configured: Institution | None) -> None:
        self.file = file
        self.configured = configured
        normalized = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r")
        if not normalized.startswith("MSH") or len(normalized) < 8:
            raise AdapterError.one(file, "line 1", "MSH", "an HL7 v2 message starts with MSH")
        try:
            self.msg = hl7.parse(normalized)
        except Exception:  # the library raises several kinds on broken input
            raise AdapterError.one(file, "line 1", "MSH", "not a parsable HL7 v2 message") from None
        enc = normalized[3:8]
        if len(set(enc)) != len(enc) or any(c.isalnum() or c.isspace() for c in enc):
            raise AdapterError.one(file, "line 1", "MSH-2", "not five distinct delimiters")
        self.delimiters = Delimiters(enc[0], enc[1], enc[2], enc[3], enc[4])
        self.lines = {id(seg): i for i, seg in enumerate(self.msg, start=1)}
        charset = self.raw(self.segment("MSH"), 18)
        if charset not in CHARSETS:
            reason = "character set not one of " + ", ".join(repr(c) for c in CHARSETS)
            raise self.fail(self.segment("MSH"), "MSH-18", reason)
        self.charset = CHARSETS[charset]

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

    def raw(self, seg: Any, f: int, comp: int = 1, sub: int = 1, rep: int = 1) -> str:
        """The escaped text at a position of the parse tree; ``""`` where there is nothing.
        (The ``hl7`` library keeps MSH-1, the field separator, as MSH's field 1.)"""
        node: Any = seg[f] if f < len(seg) else ""
        for index in (rep, comp, sub):
            if isinstance(node, str):
                node = node if index == 1 else ""
            else:
                node = node[index - 1] if index <= len(node) else ""
        return node if isinstance(node, str) else ""

    def get(self, seg: Any, f: int, comp: int = 1, sub: int = 1, rep: int = 1) -> str:
        """Plain text (unescaped, stripped); an explicit null ``""`` reads as absent."""
        value = self.raw(seg, f, comp, sub, rep)
        if value == NULL:
            return ""
        return self.delimiters.unescape(value, self.charset).strip()

    def is_null(self, seg: Any, f: int, comp: int = 1) -> bool:
        return self.raw(seg, f, comp) == NULL

    def reps(self, seg: Any, f: int) -> int:
        if f >= len(seg):
            return 0
        node = seg[f]
        return 1 if isinstance(node, str) else len(node)

    def req(self, seg: Any, f: int, comp: int = 1, sub: int = 1) -> str:
        value = self.get(seg, f, comp, sub)
        if not value:
            reason = "is null" if self.is_null(seg, f, comp) else "is missing"
            raise self.fail(seg, _name(seg, f, comp), reason)
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

    def person_name(self, seg: Any, f: int, first: int) -> str:
        """A whole XPN (``first`` = 1) or XCN (``first`` = 2) name: family name (its first
        subcomponent), given name, further given names. Chinese names are written without
        spaces (陈 + 志强), others as HL7 orders them, space-separated."""
        parts = [self.get(seg, f, first), self.get(seg, f, first + 1), self.get(seg, f, first + 2)]
        parts = [p for p in parts if p]
        if not parts:
            raise self.fail(seg, _name(seg, f, first), "is missing")
        joiner = "" if all(_CJK.fullmatch(p) for p in parts) else " "
        return joiner.join(parts)

    def phone(self, seg: Any, f: int) -> str | None:
        """The first XTN repetition with a number: component 12 (unformatted), 1 (the
        formatted number of older versions), or area code (6) and local number (7)."""
        for rep in range(1, self.reps(seg, f) + 1):
            for comp in (12, 1):
                if value := self.get(seg, f, comp, rep=rep):
                    return value
            local = self.get(seg, f, 7, rep=rep)
            if local:
                area = self.get(seg, f, 6, rep=rep)
                return f"{area}-{local}" if area else local
        return None


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
    patient: dict[str, Any] = {"name": m.person_name(pid, 5, 1), "id_number": id_number}
    with_id_kind(patient)
    if m.get(pid, 8):
        patient["gender"] = m.code(pid, 8, GENDER)
    _put(patient, "birth_date", m.conv(pid, 7, ts_date, "a date (YYYYMMDD)", required=False))
    _put(patient, "phone", m.phone(pid, 13))
    return patient


def _hospital(m: _Msg) -> dict[str, Any]:
    """MSH-4 when it holds a credit code (``name^USCC^USCC``), else the configured institution;
    a credit code in MSH-4 other than the configured one is refused."""
    msh = m.segment("MSH")
    configured = m.configured
    if m.get(msh, 4, 3) == USCC_TYPE:
        code = m.req(msh, 4, 2)
        if configured is not None and configured.credit_code != code:
            reason = "the credit code differs from the adapter's configured institution"
            raise m.fail(msh, "MSH-4.2", reason)
        return institution(m.req(msh, 4), code)
    if configured is None:
        reason = "a local facility id: configure the adapter's institution (--institution USCC)"
        raise m.fail(msh, "MSH-4", reason)
    if not configured.name:
        raise m.fail(msh, "MSH-4", "configure the institution's name (--institution-name)")
    return institution(configured.name, configured.credit_code)


def _case_id(m: _Msg) -> str | None:
    zjx = m.segments("ZJX")
    return m.get(zjx[0], 1) or None if zjx else None


def _coded(m: _Msg, seg: Any, f: int, code_set: CodeSet) -> list[tuple[str, str]]:
    """``[(code, edition)]`` of a coded element; a dagger/asterisk pair gives two."""
    system = m.get(seg, f, 3)
    if system and not code_set.knows(system):
        known = " ".join(sorted(code_set.systems))
        raise m.fail(seg, _name(seg, f, 3), f"the coding system must be one of {known}")
    out = []
    for code in split_pair(m.req(seg, f)):
        edition = code_set.edition(code, system)
        if edition is None:
            raise m.fail(seg, _name(seg, f), code_set.fault(code, system))
        out.append((code, edition))
    return out


def _diagnoses(m: _Msg) -> dict[str, list[dict[str, Any]]]:
    """DG1 segments by DG1-6 (table 0052): admission (A), working (W), discharge (F)."""
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in DIAGNOSIS_TYPES.values()}
    for dg1 in m.segments("DG1"):
        kind = m.code(dg1, 6, DIAGNOSIS_TYPES)
        name, primary = m.req(dg1, 3, 2), m.get(dg1, 15) == "1"
        for code, edition in _coded(m, dg1, 3, CODING["icd10"]):
            found[kind].append(
                {"code": code, "code_edition": edition, "name": name, "primary": primary}
            )
    return found


def _operations(m: _Msg) -> list[dict[str, Any]]:
    operations = []
    for pr1 in m.segments("PR1"):
        op: dict[str, Any] = {"name": m.req(pr1, 3, 2)}
        if m.get(pr1, 3):
            op["code"], op["code_edition"] = _coded(m, pr1, 3, CODING["icd9cm3"])[0]
        op["date"] = m.conv(pr1, 5, ts_date, "a date")
        operations.append(op)
    return operations


def _doctor(m: _Msg, seg: Any, f: int) -> dict[str, Any]:
    doctor: dict[str, Any] = {"name": m.person_name(seg, f, 2)}
    _put(doctor, "licence_number", m.get(seg, f, 1))
    return doctor


def _discharge(m: _Msg, doc: dict[str, Any], diagnoses: dict[str, list[dict[str, Any]]]) -> None:
    pv1 = m.segment("PV1")
    doc["discharged_at"] = m.conv(pv1, 45, ts_moment, "a time (YYYYMMDDHHMM[SS])")
    doc["discharge_diagnoses"] = diagnoses["discharge"]
    _put(doc, "operations", _operations(m))
    zjx = m.segments("ZJX")
    if zjx:
        _put(doc, "course_of_treatment", m.get(zjx[0], 3))
        if m.get(zjx[0], 2):
            doc["discharge_condition"] = m.code(zjx[0], 2, CONDITION)
        _put(doc, "discharge_advice", m.get(zjx[0], 4))
    stay = date.fromisoformat(doc["discharged_at"][:10]) - date.fromisoformat(
        doc["admitted_at"][:10]
    )
    doc["length_of_stay_days"] = max(stay.days, 1)


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
    diagnoses = _diagnoses(m)
    if not diagnoses["admission"]:
        raise AdapterError.one(m.file, "message", "DG1", "no admitting diagnosis (DG1-6 = A)")
    doc["admission_diagnoses"] = diagnoses["admission"]
    if event == "A03":
        _discharge(m, doc, diagnoses)
    doc["attending_doctor"] = _doctor(m, pv1, 7)
    return doc


def _result(m: _Msg, obx: Any, item: str) -> dict[str, Any]:
    result: dict[str, Any] = {"item": item, "value": m.req(obx, 5)}
    _put(result, "unit", m.get(obx, 6))
    _put(result, "reference_range", m.get(obx, 7))
    if m.get(obx, 8):
        result["flag"] = m.code(obx, 8, FLAG)
    return result


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
        results.append(_result(m, obx, item))
    _put(doc, "results", results)
    doc["reporting_doctor"] = _doctor(m, obr, 32)
    if m.get(obr, 33, 2):
        doc["reviewing_doctor"] = _doctor(m, obr, 33)
    return doc


def parse_hl7(text: str, file: str, configured: Institution | None = None) -> Outgoing:
    m = _Msg(text, file, configured)
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
