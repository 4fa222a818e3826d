"""Done when: a CDA discharge record and an HL7 ADT^A03 shaped like a county hospital's
(local facility id in MSH-4, CR separators, national clinical codes, a Z-segment, GBK XML)
travel adapter -> real gateway -> recipient with every fact intact, compared field by field,
on both stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.common import send_parsed
from adapters.common.cli import parse_files
from adapters.common.settings import Institution
from adapters.health import FAMILY
from gateway.testing import running_gateway
from tests.adapters.conftest import HOSPITAL, RECOGNITION, pull_verified, sample

HOSPITAL_DOC = {
    "name": "永康市第一人民医院",
    "credit_code": "12330784470802315K",
    "region_code": "330784",
}
INSTITUTION = Institution(HOSPITAL_DOC["credit_code"], HOSPITAL_DOC["name"])

#: what the ADT^A03 says, written out by hand from the message (not from the adapter)
ADT_A03: dict[str, Any] = {
    "case_id": "GS-330784-2026-000731",
    "inpatient_number": "ZY20260711027",
    "record_kind": "discharge",
    "patient": {
        "name": "林志明",  # PID-5 XPN family + given
        "id_number": "830000199408230025",  # a Taiwan resident's residence permit
        "id_kind": "tw_residence_permit",
        "gender": "male",
        "birth_date": "1994-08-23",
        "phone": "13857912346",  # PID-13 XTN component 7; PID-14 "" is absent
    },
    "hospital": HOSPITAL_DOC,  # MSH-4 is the local id YK1Y: the configured institution
    "department": "手足外科",
    "injury_date": "2026-07-11",
    "admitted_at": "2026-07-11T12:30:00+08:00",
    "discharged_at": "2026-07-20T09:00:00+08:00",
    "admission_diagnoses": [
        {"code": "S62.600x001", "code_edition": "cn_clinical_2.0",
         "name": "右手中指中节指骨粉碎性骨折", "primary": True},
        {"code": "S61.100", "code_edition": "cn_clinical_2.0",
         "name": "右手中指开放性伤口", "primary": False},
    ],  # the W (working) diagnosis is neither admission nor discharge
    "discharge_diagnoses": [
        {"code": "S62.600x001", "code_edition": "cn_clinical_2.0",
         "name": "右手中指中节指骨粉碎性骨折", "primary": True},
        {"code": "S61.100", "code_edition": "cn_clinical_2.0",
         "name": "右手中指开放性伤口", "primary": False},
    ],
    "operations": [
        {"name": "右中指中节指骨骨折切开复位克氏针内固定术", "code": "79.3400x004",
         "code_edition": "cn_clinical_3.0", "date": "2026-07-11"},
    ],
    "course_of_treatment": "入院后急诊手术\n术后抗感染、换药，伤口愈合良好。",  # \.br\, \H\..\N\
    "discharge_condition": "improved",
    "discharge_advice": "术后6周复查拔针|功能锻炼。",  # \F\ is the declared field separator
    "length_of_stay_days": 9,
    "attending_doctor": {"name": "程立新", "licence_number": "110330784001234"},  # XCN
}  # fmt: skip

#: what the GBK C0049 says, written out by hand from the document
CDA_C0049: dict[str, Any] = {
    "record_kind": "discharge",
    "inpatient_number": "ZY20260801004",
    "patient": {
        "name": "王喆",  # 喆 is outside GB2312: GBK decoded as GB18030
        "id_number": "330702199001012037",
        "id_kind": "resident",
        "gender": "male",
        "birth_date": "1990-01-01",  # no birthTime: from the ID number
        "phone": "0579-87123456",
    },
    "hospital": HOSPITAL_DOC,
    "department": "骨科",
    "injury_date": "2026-07-31",
    "admitted_at": "2026-08-01T08:30:00+08:00",
    "discharged_at": "2026-08-10T09:30:00+08:00",
    "admission_diagnoses": [
        {"code": "S82.200x011", "code_edition": "cn_clinical_2.0", "name": "左胫骨干骨折",
         "primary": True},
    ],
    "discharge_diagnoses": [
        {"code": "S82.200x011", "code_edition": "cn_clinical_2.0", "name": "左胫骨干骨折",
         "primary": True},
        {"code": "T14.000", "code_edition": "cn_clinical_2.0", "name": "多处软组织挫伤",
         "primary": False},
    ],
    "operations": [
        {"name": "伤口切除性清创术", "code": "86.2200x003", "code_edition": "cn_clinical_3.0",
         "date": "2026-08-01"},
    ],
    "course_of_treatment": "入院后行清创术，石膏固定，卧床休养。",  # DE06.00.296.00, <text/> empty
    "discharge_advice": "石膏固定6周，门诊随访。",  # DE06.00.287.00
    "discharge_condition": "improved",  # DE06.00.193.00 as the words 好转
    "length_of_stay_days": 9,
    "attending_doctor": {"name": "施晓燕", "licence_number": "110330784002871"},
}  # fmt: skip

FILES = {
    "county_adt_a03_local_facility.hl7": ADT_A03,
    "county_cda_c0049_gbk.xml": CDA_C0049,
}


def _same_field_by_field(got: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    assert sorted(got) == sorted(expected), where
    for key, value in expected.items():
        if isinstance(value, dict):
            _same_field_by_field(got[key], value, f"{where}/{key}")
        elif isinstance(value, list):
            assert len(got[key]) == len(value), f"{where}/{key}"
            for i, item in enumerate(value):
                _same_field_by_field(got[key][i], item, f"{where}/{key}/{i}")
        else:
            assert got[key] == value, f"{where}/{key}"
            assert type(got[key]) is type(value), f"{where}/{key}"


async def test_county_hospital_exports_arrive_with_every_fact(
    tmp_path: Path, database: str | None
) -> None:
    names = sorted(FILES)
    parsed = parse_files(FAMILY, [sample("health", n) for n in names], INSTITUTION)
    assert not parsed.errors
    async with running_gateway(tmp_path, database=database) as gw:
        report = await send_parsed(gw.client(HOSPITAL), parsed)
        assert report.ok and len(report.sent) == 2
        events = await pull_verified(gw, RECOGNITION)
    by_number = {e.data["inpatient_number"]: e for e in events}
    assert len(by_number) == 2
    for name in names:
        expected = FILES[name]
        event = by_number[expected["inpatient_number"]]
        assert event.source == HOSPITAL
        assert event.type == "cn.gov.zj.injury.admission_discharge_record.v1"
        _same_field_by_field(event.data, expected, name)


def test_without_a_configured_institution_the_local_facility_id_is_refused() -> None:
    parsed = parse_files(FAMILY, [sample("health", "county_adt_a03_local_facility.hl7")])
    assert not parsed.records
    [error] = parsed.errors
    assert str(error).endswith(
        "line 1, segment MSH: field MSH-4: a local facility id: "
        "configure the adapter's institution (--institution USCC)"
    )
