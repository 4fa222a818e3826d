"""CDA R2 clinical documents in the national shape (WS/T 500) -> canonical documents.

Implemented: the outpatient (emergency) record C0002 -> ``outpatient_record``; the discharge
record C0049 and discharge summary C0053 -> ``admission_discharge_record`` (discharge).
The patient's resident ID number is the ``patient/id`` whose root is the ID-card OID
2.16.156.10011.1.3; diagnoses are entry observations whose value is coded in ICD-10
(code system 2.16.156.10011.2.3.3.11), with the edition decided by ``coding.toml``. The
discharge documents' content is read by section code and data element as WS/T 500 places it
(``wst500.toml``: section, DE code, cardinality). The birth date is ``birthTime``, else the
one inside the identity number. Parsing is hardened (``adapters.common.xml``: UTF-8 or the
GB18030 family as declared). The elements read are documented in README.md.
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from adapters.common.coding import CodeSet, load_coding, split_pair
from adapters.common.errors import AdapterError
from adapters.common.people import with_id_kind
from adapters.common.records import Outgoing, doc_type, outgoing
from adapters.common.xml import Element, parse_xml, path_of
from adapters.health.common import birth_date_in, institution, ts_date, ts_moment

OUTPATIENT = doc_type("outpatient_record")
V3 = "urn:hl7-org:v3"
NS = {"v3": V3}
ID_CARD_OID = "2.16.156.10011.1.3"
ICD10_OID = "2.16.156.10011.2.3.3.11"
GENDER_OID = "2.16.156.10011.2.3.3.4"  # GB/T 2261.1
GENDER = {"1": "male", "2": "female"}
VISIT = {
    "outpatient": "outpatient",
    "emergency": "emergency",
    "AMB": "outpatient",
    "EMER": "emergency",
}
SUPPORTED = {
    "C0002": "outpatient record",
    "C0049": "discharge record",
    "C0053": "discharge summary",
}
HOSPITAL_STAY = doc_type("admission_discharge_record")
ICD9CM3_OID = "2.16.156.10011.2.3.3.12"
ADMISSION_DX = "46241-6"  # 入院诊断
DISCHARGE_DX = "11535-2"  # 出院诊断
PROCEDURES = "47519-4"  # 手术及操作
CODING = load_coding("adapters.health", "coding.toml")
#: section LOINC code -> canonical field (narrative text of the section)
SECTIONS = {
    "10154-3": "chief_complaint",  # 主诉
    "10164-2": "present_illness",  # 现病史
    "29545-1": "physical_examination",  # 体格检查
    "30954-2": "auxiliary_examinations",  # 辅助检查
    "18776-5": "treatment",  # 处理意见 / 治疗计划
}
DIAGNOSIS_SECTION = "29548-5"  # 诊断
INJURY_SECTION = "11374-6"  # 受伤情况: an observation whose effectiveTime is the injury date


@cache
def _elements() -> dict[str, Any]:
    text = (resources.files("adapters.health") / "wst500.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


class _Cda:
    def __init__(self, root: Element, file: str) -> None:
        self.root = root
        self.file = file

    def where(self, el: Element) -> str:
        return f"line {el.sourceline}, element {path_of(el)}"

    def fail(self, el: Element, field: str, reason: str) -> AdapterError:
        return AdapterError.one(self.file, self.where(el), field, reason)

    def one(self, ctx: Element, path: str, field: str, required: bool = True) -> Element | None:
        found = ctx.xpath(path, namespaces=NS)
        if not found:
            if required:
                raise self.fail(ctx, field, "is missing")
            return None
        return found[0]

    def need(self, ctx: Element, path: str, field: str) -> Element:
        found = self.one(ctx, path, field)
        assert found is not None
        return found

    def attr(
        self, ctx: Element, path: str, name: str, field: str, required: bool = True
    ) -> str | None:
        el = self.one(ctx, path, field, required)
        if el is None:
            return None
        value = (el.get(name) or "").strip()
        if not value and required:
            raise self.fail(el, f"{field}/@{name}", "is missing")
        return value or None

    def text(self, ctx: Element, path: str, field: str, required: bool = True) -> str | None:
        el = self.one(ctx, path, field, required)
        if el is None:
            return None
        value = "".join(el.itertext()).strip()
        if not value and required:
            raise self.fail(el, field, "is empty")
        return value or None

    def ts(
        self, ctx: Element, path: str, field: str, moment: bool, required: bool = True
    ) -> str | None:
        value = self.attr(ctx, path, "value", field, required)
        if value is None:
            return None
        try:
            return ts_moment(value) if moment else ts_date(value)
        except ValueError:
            el = self.one(ctx, path, field)
            what = "a time (YYYYMMDDHHMM[SS])" if moment else "a date (YYYYMMDD)"
            raise self.fail(el, f"{field}/@value", f"not {what}") from None


def _put(doc: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        doc[key] = value


def _section(c: _Cda, body: Element, code: str, required: bool = False) -> Element | None:
    path = f"v3:component/v3:section[v3:code/@code='{code}']"
    return c.one(body, path, f"section {code}", required)


def _doctor(c: _Cda) -> dict[str, Any]:
    author = c.need(c.root, "v3:author/v3:assignedAuthor", "author")
    doctor: dict[str, Any] = {"name": c.text(author, "v3:assignedPerson/v3:name", "author/name")}
    licence = c.attr(author, "v3:id", "extension", "author/id", required=False)
    _put(doctor, "licence_number", licence)
    return doctor


def _diagnoses(c: _Cda, body: Element, code: str) -> list[dict[str, Any]]:
    section = c.need(body, f"v3:component/v3:section[v3:code/@code='{code}']", f"section {code}")
    diagnoses = []
    for obs in section.xpath("v3:entry/v3:observation", namespaces=NS):
        value = c.need(obs, "v3:value", "observation/value")
        if value.get("codeSystem") != ICD10_OID:
            raise c.fail(value, "value/@codeSystem", f"diagnoses are coded in ICD-10 ({ICD10_OID})")
        if not value.get("code") or not value.get("displayName"):
            raise c.fail(value, "value/@code @displayName", "is missing")
        primary = obs.xpath("v3:priorityCode/@code", namespaces=NS)
        for code, edition in _coded(c, value, CODING["icd10"]):
            diagnoses.append(
                {
                    "code": code,
                    "code_edition": edition,
                    "name": value.get("displayName"),
                    "primary": primary == ["1"],
                }
            )
    if not diagnoses:
        raise c.fail(section, "entry/observation", "no diagnosis")
    return diagnoses


def _coded(c: _Cda, el: Element, code_set: CodeSet) -> list[tuple[str, str]]:
    """``[(code, edition)]`` of a coded element (``@code`` under ``@codeSystem``)."""
    out = []
    for code in split_pair(str(el.get("code"))):
        edition = code_set.edition(code, el.get("codeSystem"))
        if edition is None:
            raise c.fail(el, "@code", code_set.fault(code, el.get("codeSystem")))
        out.append((code, edition))
    return out


def _patient(c: _Cda, role: Element) -> dict[str, Any]:
    el = c.need(role, "v3:patient", "patient")
    id_field = f"patient/id[@root='{ID_CARD_OID}']"
    patient: dict[str, Any] = {
        "name": c.text(el, "v3:name", "patient/name"),
        "id_number": c.attr(el, f"v3:id[@root='{ID_CARD_OID}']", "extension", id_field),
    }
    gender_path = "v3:administrativeGenderCode"
    gender = c.attr(el, gender_path, "code", "administrativeGenderCode", required=False)
    if gender is not None:
        if gender not in GENDER:
            raise c.fail(el, "administrativeGenderCode/@code", "not one of 1 2 (GB/T 2261.1)")
        patient["gender"] = GENDER[gender]
    birth = c.ts(el, "v3:birthTime", "birthTime", moment=False, required=False)
    _put(patient, "birth_date", birth or birth_date_in(str(patient["id_number"])))
    with_id_kind(patient)
    phone = c.attr(role, "v3:telecom", "value", "telecom", required=False)
    _put(patient, "phone", phone.removeprefix("tel:") if phone else None)
    return patient


def _hospital(c: _Cda) -> dict[str, Any]:
    path = "v3:custodian/v3:assignedCustodian/v3:representedCustodianOrganization"
    org = c.need(c.root, path, "custodian")
    name = c.text(org, "v3:name", "custodian/name")
    code = c.attr(org, "v3:id", "extension", "custodian/id")
    assert name is not None and code is not None
    return institution(name, code)


def _common(c: _Cda, doc: dict[str, Any], number_field: str) -> tuple[Element, Element]:
    """Case id, the patient's record number, patient, hospital, department, injury date;
    returns the encounter and the structured body."""
    enc = c.need(c.root, "v3:componentOf/v3:encompassingEncounter", "encompassingEncounter")
    case_path = "v3:id[@assigningAuthorityName='zj-exchange']"
    _put(doc, "case_id", c.attr(enc, case_path, "extension", "id", required=False))
    role = c.need(c.root, "v3:recordTarget/v3:patientRole", "recordTarget/patientRole")
    doc[number_field] = c.attr(role, "v3:id", "extension", "patientRole/id")
    doc["patient"] = _patient(c, role)
    doc["hospital"] = _hospital(c)
    dept_path = "v3:location/v3:healthCareFacility/v3:serviceProviderOrganization/v3:name"
    _put(doc, "department", c.text(enc, dept_path, "location", required=False))
    body = c.need(c.root, "v3:component/v3:structuredBody", "structuredBody")
    injury = _section(c, body, INJURY_SECTION)
    if injury is not None:
        path = "v3:entry/v3:observation/v3:effectiveTime"
        _put(doc, "injury_date", c.ts(injury, path, "injury/effectiveTime", moment=False))
    return enc, body


def outpatient(c: _Cda) -> dict[str, Any]:
    """C0002 门(急)诊病历 -> ``outpatient_record``."""
    doc: dict[str, Any] = {}
    enc, body = _common(c, doc, "record_number")
    visit = c.attr(enc, "v3:code", "code", "encompassingEncounter/code")
    if visit not in VISIT:
        reason = "not one of " + " ".join(sorted(VISIT))
        raise c.fail(c.need(enc, "v3:code", "code"), "encompassingEncounter/code/@code", reason)
    doc["visit_kind"] = VISIT[visit]
    doc["visit_at"] = c.ts(enc, "v3:effectiveTime", "encompassingEncounter/effectiveTime", True)
    for loinc, field in SECTIONS.items():
        section = _section(c, body, loinc)
        if section is not None:
            _put(doc, field, _section_text(section))
    doc["diagnoses"] = _diagnoses(c, body, DIAGNOSIS_SECTION)
    doc["doctor"] = _doctor(c)
    return doc


def _operations(c: _Cda, body: Element) -> list[dict[str, Any]] | None:
    section = _section(c, body, PROCEDURES)
    if section is None:
        return None
    operations = []
    for proc in section.xpath("v3:entry/v3:procedure", namespaces=NS):
        code = c.need(proc, "v3:code", "procedure/code")
        if code.get("codeSystem") != ICD9CM3_OID:
            reason = f"procedures are coded in ICD-9-CM-3 ({ICD9CM3_OID})"
            raise c.fail(code, "code/@codeSystem", reason)
        if not code.get("displayName"):
            raise c.fail(code, "code/@displayName", "is missing")
        op: dict[str, Any] = {"name": code.get("displayName")}
        if code.get("code"):
            op["code"], op["code_edition"] = _coded(c, code, CODING["icd9cm3"])[0]
        op["date"] = c.ts(proc, "v3:effectiveTime", "procedure/effectiveTime", moment=False)
        operations.append(op)
    return operations


def _section_text(section: Element) -> str | None:
    """A section's narrative ``text``; when a system leaves it empty (``<text/>``), the text
    values of its entries (``entry/observation/value``, one per line), so nothing is lost."""
    narrative = section.xpath("v3:text", namespaces=NS)
    text = "".join(narrative[0].itertext()).strip() if narrative else ""
    if not text:
        values = section.xpath("v3:entry/v3:observation/v3:value", namespaces=NS)
        text = "\n".join(t for v in values if (t := "".join(v.itertext()).strip()))
    return text or None


def _element(c: _Cda, body: Element, spec: dict[str, Any]) -> str | None:
    """A data element by section and DE code: the entry's value, else the section's text."""
    section, element = spec["section"], spec["element"]
    where = f"section {section} element {element}"
    path = f"v3:component/v3:section//v3:observation[v3:code/@code='{element}']/v3:value"
    found = body.xpath(path, namespaces=NS)
    value_el = found[0] if found else None
    if spec["kind"] == "coded" and value_el is not None:
        return _condition(c, value_el, where)
    text = "".join(value_el.itertext()).strip() if value_el is not None else ""
    if not text and spec["kind"] == "text":
        holder = _section(c, body, section)
        narrative = holder.xpath("v3:text", namespaces=NS) if holder is not None else []
        text = "".join(narrative[0].itertext()).strip() if narrative else ""
    if not text and spec["required"]:
        raise c.fail(body, where, "is missing (WS/T 500: required)")
    return text or None


def _condition(c: _Cda, value: Element, where: str) -> str:
    """DE06.00.193.00 as a code (``@code``) or as the code's words (ST text)."""
    table = _elements()["discharge_condition"]
    code = (value.get("code") or "").strip()
    words = "".join(value.itertext()).strip()
    if code in table["codes"]:
        return str(table["codes"][code])
    if not code and words in table["words"]:
        return str(table["words"][words])
    allowed = " ".join([*table["codes"], *table["words"]])
    raise c.fail(value, where, f"not one of {allowed}")


def discharge(c: _Cda) -> dict[str, Any]:
    """C0049 出院记录 / C0053 出院小结 -> ``admission_discharge_record`` (discharge)."""
    doc: dict[str, Any] = {"record_kind": "discharge"}
    enc, body = _common(c, doc, "inpatient_number")
    doc["admitted_at"] = c.ts(enc, "v3:effectiveTime/v3:low", "effectiveTime/low", True)
    doc["discharged_at"] = c.ts(enc, "v3:effectiveTime/v3:high", "effectiveTime/high", True)
    doc["admission_diagnoses"] = _diagnoses(c, body, ADMISSION_DX)
    doc["discharge_diagnoses"] = _diagnoses(c, body, DISCHARGE_DX)
    _put(doc, "operations", _operations(c, body))
    for field, spec in _elements()["discharge"].items():
        _put(doc, field, _element(c, body, spec))
    admitted, discharged = str(doc["admitted_at"]), str(doc["discharged_at"])
    stay = date.fromisoformat(discharged[:10]) - date.fromisoformat(admitted[:10])
    doc["length_of_stay_days"] = max(stay.days, 1)
    doc["attending_doctor"] = _doctor(c)
    return doc


def parse_cda(raw: bytes, file: str) -> Outgoing:
    root = parse_xml(raw, file)
    c = _Cda(root, file)
    if root.tag != f"{{{V3}}}ClinicalDocument":
        raise c.fail(root, "(root)", "not a CDA ClinicalDocument (urn:hl7-org:v3)")
    code = c.attr(root, "v3:code", "code", "code")
    if code not in SUPPORTED:
        raise c.fail(root, "code/@code", "document code not one of " + " ".join(sorted(SUPPORTED)))
    if code == "C0002":
        data = outpatient(c)
        return outgoing(OUTPATIENT, data, data["record_number"], file, c.where(root))
    data = discharge(c)
    key = f"{data['inpatient_number']}/discharge"
    return outgoing(HOSPITAL_STAY, data, key, file, c.where(root))
