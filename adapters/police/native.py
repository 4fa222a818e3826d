"""Police XML exports -> canonical documents.

One file holds one record; its root element says which: ``ResidentIdentity`` (household
registry), ``TrafficAccidentDetermination`` (traffic police), ``PoliceCertificate`` (police
station). The shape is documented in this package's README.md. Parsing is hardened
(``adapters.common.xml``): DOCTYPE and ENTITY declarations are refused outright.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.common.errors import AdapterError, Problem
from adapters.common.people import with_id_kind
from adapters.common.records import Outgoing, Parsed, doc_type, outgoing
from adapters.common.xml import Element, XmlReader, local, parse_xml

RESIDENT_ID = doc_type("resident_id_info")
TRAFFIC = doc_type("traffic_accident_determination")
CERTIFICATE = doc_type("police_certificate")

GENDER = {"1": "male", "2": "female", "男": "male", "女": "female"}
PROCEDURE = {"简易程序": "simplified", "一般程序": "general"}
PARTY_ROLE = {
    "驾驶人": "driver",
    "骑车人": "rider",
    "乘车人": "passenger",
    "行人": "pedestrian",
    "其他": "other",
}
LIABILITY = {
    "全部责任": "full",
    "主要责任": "main",
    "同等责任": "equal",
    "次要责任": "minor",
    "无责任": "none",
}
CERT_KIND = {"证明": "certificate", "出警记录": "call_out_record"}
INCIDENT = {
    "暴力伤害": "violence",
    "纠纷": "dispute",
    "盗窃": "theft",
    "交通": "traffic",
    "其他": "other",
}
PERSON_ROLE = {"受害人": "victim", "嫌疑人": "suspect", "证人": "witness", "报警人": "reporter"}
BOOL = {"是": True, "否": False, "1": True, "0": False}


def _put(doc: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        doc[key] = value


def _institution(r: XmlReader, el: Element, name: str) -> dict[str, Any]:
    node = r.child(el, name)
    doc: dict[str, Any] = {"name": r.req(node, "Name"), "credit_code": r.req(node, "CreditCode")}
    _put(doc, "region_code", r.text(node, "RegionCode", required=False))
    return doc


def resident_identity(r: XmlReader, el: Element) -> tuple[str, dict[str, Any], str]:
    doc: dict[str, Any] = {}
    _put(doc, "case_id", r.text(el, "CaseId", required=False))
    doc["name"] = r.req(el, "Name")
    doc["id_number"] = r.req(el, "IdNumber")
    with_id_kind(doc)
    doc["gender"] = r.code(el, "Gender", GENDER)
    _put(doc, "ethnicity", r.text(el, "Ethnicity", required=False))
    doc["birth_date"] = r.date(el, "BirthDate")
    doc["address"] = r.req(el, "Address")
    _put(doc, "region_code", r.text(el, "RegionCode", required=False))
    doc["issuing_authority"] = r.req(el, "IssuingAuthority")
    doc["valid_from"] = r.date(el, "ValidFrom")
    if r.text(el, "ValidUntil", required=False) == "长期":
        doc["long_term"] = True
    else:
        _put(doc, "valid_until", r.date(el, "ValidUntil", required=False))
    _put(doc, "verified_at", r.moment(el, "VerifiedAt", required=False))
    return RESIDENT_ID, doc, f"{doc['id_number']}/{doc['valid_from']}"


def traffic_determination(r: XmlReader, el: Element) -> tuple[str, dict[str, Any], str]:
    doc: dict[str, Any] = {}
    _put(doc, "case_id", r.text(el, "CaseId", required=False))
    doc["determination_number"] = r.req(el, "DeterminationNumber")
    doc["procedure"] = r.code(el, "Procedure", PROCEDURE)
    doc["accident_at"] = r.moment(el, "AccidentTime")
    doc["place"] = r.req(el, "Place")
    doc["region_code"] = r.req(el, "RegionCode")
    doc["facts"] = r.req(el, "Facts")
    parties_el = r.child(el, "Parties")
    parties = []
    for p in r.children(parties_el, "Party"):
        party: dict[str, Any] = {
            "name": r.req(p, "Name"),
            "id_number": r.req(p, "IdNumber"),
            "role": r.code(p, "Role", PARTY_ROLE),
        }
        with_id_kind(party)
        _put(party, "vehicle_plate", r.text(p, "VehiclePlate", required=False))
        _put(party, "vehicle_kind", r.text(p, "VehicleKind", required=False))
        party["liability"] = r.code(p, "Liability", LIABILITY)
        injured = r.text(p, "Injured", required=False)
        if injured is not None:
            party["injured"] = _bool(r, p, "Injured", injured)
        parties.append(party)
    if not parties:
        raise r.fail(parties_el, "Party", "at least one party is required")
    doc["parties"] = parties
    _put(doc, "basis", r.text(el, "Basis", required=False))
    doc["issuer"] = _institution(r, el, "Issuer")
    doc["determined_date"] = r.date(el, "DeterminedDate")
    return TRAFFIC, doc, doc["determination_number"]


def police_certificate(r: XmlReader, el: Element) -> tuple[str, dict[str, Any], str]:
    doc: dict[str, Any] = {}
    _put(doc, "case_id", r.text(el, "CaseId", required=False))
    doc["certificate_number"] = r.req(el, "CertificateNumber")
    doc["kind"] = r.code(el, "Kind", CERT_KIND)
    doc["incident_at"] = r.moment(el, "IncidentTime")
    _put(doc, "received_at", r.moment(el, "ReceivedTime", required=False))
    _put(doc, "arrived_at", r.moment(el, "ArrivedTime", required=False))
    doc["place"] = r.req(el, "Place")
    doc["region_code"] = r.req(el, "RegionCode")
    doc["incident_kind"] = r.code(el, "IncidentKind", INCIDENT)
    doc["summary"] = r.req(el, "Summary")
    persons_el = r.child(el, "Persons")
    persons = []
    for p in r.children(persons_el, "Person"):
        person: dict[str, Any] = {"name": r.req(p, "Name")}
        _put(person, "id_number", r.text(p, "IdNumber", required=False))
        with_id_kind(person)
        person["role"] = r.code(p, "Role", PERSON_ROLE)
        persons.append(person)
    if not persons:
        raise r.fail(persons_el, "Person", "at least one person is required")
    doc["persons"] = persons
    _put(doc, "handling_result", r.text(el, "HandlingResult", required=False))
    officer = r.child(el, "Officer", required=False)
    if officer is not None:
        doc["officer"] = {"name": r.req(officer, "Name"), "badge_number": r.req(officer, "Badge")}
    doc["issuer"] = _institution(r, el, "Issuer")
    doc["issued_date"] = r.date(el, "IssuedDate")
    return CERTIFICATE, doc, doc["certificate_number"]


def _bool(r: XmlReader, el: Element, name: str, value: str) -> bool:
    if value not in BOOL:
        raise r.fail(r.child(el, name), name, "not one of 是 否 1 0")
    return BOOL[value]


READERS = {
    "ResidentIdentity": resident_identity,
    "TrafficAccidentDetermination": traffic_determination,
    "PoliceCertificate": police_certificate,
}


#: canonical names whose native element is not simply the CamelCase of the name
NATIVE_NAMES = {
    "accident_at": "AccidentTime",
    "incident_at": "IncidentTime",
    "received_at": "ReceivedTime",
    "arrived_at": "ArrivedTime",
    "badge_number": "Badge",
    "long_term": "ValidUntil",
    "parties": "Parties/Party",
    "persons": "Persons/Person",
}


def native_path(pointer: str) -> str | None:
    """``/parties/1/id_number`` -> ``Parties/Party[2]/IdNumber`` (None for the whole record)."""
    parts: list[str] = []
    for token in pointer.strip("/").split("/") if pointer.strip("/") else []:
        if token.isdigit() and parts:
            parts[-1] += f"[{int(token) + 1}]"
        else:
            parts.append(NATIVE_NAMES.get(token, "".join(w.capitalize() for w in token.split("_"))))
    return "/".join(parts) or None


def _natively(error: AdapterError, reader: XmlReader, root: Element) -> AdapterError:
    """Schema faults named by the native element (and its line) instead of the JSON Pointer."""
    problems = []
    for p in error.problems:
        path = native_path(p.field) if p.field.startswith("/") else None
        found = root.find(path) if path else None
        if found is None:
            problems.append(p)
        else:
            problems.append(Problem(p.file, reader.where(found), local(found), p.reason))
    return AdapterError(problems)


def parse_bytes(raw: bytes, file: str) -> Outgoing:
    """One native record -> one validated canonical document, or ``AdapterError``."""
    root = parse_xml(raw, file)
    reader = XmlReader(file, root)
    kind = local(root)
    if kind not in READERS:
        raise reader.fail(root, "(root)", "root element not one of " + " ".join(sorted(READERS)))
    type_, data, key = READERS[kind](reader, root)
    try:
        return outgoing(type_, data, key, file, reader.where(root))
    except AdapterError as exc:
        raise _natively(exc, reader, root) from None


def parse_file(path: Path) -> Parsed:
    return Parsed(records=[parse_bytes(path.read_bytes(), str(path))])


__all__ = ["AdapterError", "parse_bytes", "parse_file"]
