"""Hospital HL7 v2 and CDA exports -> adapter -> real gateway -> recognition centre; and a
recognition decision pushed to the hospital's ``serve`` process (a real subprocess)."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import pytest

from adapters.common import AdapterError, send_parsed
from adapters.common.cli import parse_files
from adapters.health import FAMILY, parse_bytes, summary
from gateway.assembly import dev_key_path
from gateway.testing import default_config, running_gateway
from tests.adapters.conftest import HOSPITAL, RECOGNITION, REPO, example, pull_verified, sample

SAMPLES = {
    "adt_a01_admission.hl7": ("admission_discharge_record", "admission_radius"),
    "adt_a03_discharge.hl7": ("admission_discharge_record", "discharge_finger"),
    "oru_r01_lab.hl7": ("imaging_lab_report", "blood_routine"),
    "cda_c0002_outpatient.xml": ("outpatient_record", "emergency_finger"),
}


async def test_samples_reach_recognition_exactly(tmp_path: Path, database: str | None) -> None:
    names = sorted(SAMPLES)
    parsed = parse_files(FAMILY, [sample("health", n) for n in names])
    assert not parsed.errors
    async with running_gateway(tmp_path, database=database) as gw:
        report = await send_parsed(gw.client(HOSPITAL), parsed)
        assert report.ok and len(report.sent) == len(names)
        events = await pull_verified(gw, RECOGNITION)
    assert len(events) == len(names)
    for name, event in zip(names, events, strict=True):
        schema_name, example_file = SAMPLES[name]
        assert event.source == HOSPITAL
        assert event.type == f"cn.gov.zj.injury.{schema_name}.v1"
        assert event.data == example(schema_name, example_file), name


async def test_cda_discharge_record_and_hl7_discharge_are_one_message(
    tmp_path: Path, database: str | None
) -> None:
    """C0049 and ADT^A03 of one stay carry the same record key: the same event id, so a
    hospital exporting both sends the discharge once."""
    cda = parse_files(FAMILY, [sample("health", "cda_c0049_discharge.xml")])
    adt = parse_files(FAMILY, [sample("health", "adt_a03_discharge.hl7")])
    assert cda.records[0].data == adt.records[0].data
    async with running_gateway(tmp_path, database=database) as gw:
        first = await send_parsed(gw.client(HOSPITAL), cda)
        second = await send_parsed(gw.client(HOSPITAL), adt)
        events = await pull_verified(gw, RECOGNITION)
    assert len(first.sent) == 1 and second.already == first.sent
    assert [e.data for e in events] == [example("admission_discharge_record", "discharge_finger")]


def test_c0053_discharge_summary_is_read_like_c0049() -> None:
    raw = sample("health", "cda_c0049_discharge.xml").read_bytes()
    record = parse_bytes(raw.replace(b'code="C0049"', b'code="C0053"'), "c0053.xml")
    assert record.data == example("admission_discharge_record", "discharge_finger")
    bad = raw.replace(
        b'codeSystem="2.16.156.10011.2.3.3.12"', b'codeSystem="2.16.840.1.113883.6.104"'
    )
    with pytest.raises(AdapterError, match=r"/procedure/code: field code/@codeSystem: procedures"):
        parse_bytes(bad, "c0049.xml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_recognition_decision_reaches_the_hospital_serve_process(
    tmp_path: Path, database: str | None
) -> None:
    decision = example("recognition_decision", "press_recognised")
    port = _free_port()
    out = tmp_path / "his-inbox"
    config = default_config(push={HOSPITAL: f"http://127.0.0.1:{port}/inbound"})
    async with running_gateway(tmp_path / "gw", config=config, database=database) as gw:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.health", "serve", "--port", str(port),
            "--key", str(dev_key_path(gw.data_dir, HOSPITAL)), "--gateway", gw.base_url,
            "--out", str(out), cwd=REPO, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stderr is not None
            await asyncio.wait_for(proc.stderr.readline(), 20)  # "receiving on ..."
            receipt = await gw.client(RECOGNITION).submit(
                "cn.gov.zj.injury.recognition_decision.v1", decision, subject=decision["case_id"]
            )
            for _ in range(200):
                files = list(out.glob("*.json")) if out.exists() else []
                if files:
                    break
                await asyncio.sleep(0.05)
        finally:
            proc.terminate()
            await proc.wait()
    assert len(files) == 1
    got = json.loads(files[0].read_text("utf-8"))
    assert got["msg_type"] == "ZJX^R01" and got["msg_id"] == receipt["id"]
    assert got["case_id"] == decision["case_id"]
    assert got["pid_id_number"] == decision["worker"]["id_number"]
    assert got["result"] == "RECOGNISED" and got["decided_date"] == decision[
        "decided_date"
    ].replace("-", "")
    assert got["dg1"].startswith("S62.6^")


def _hl7(name: str) -> str:
    return sample("health", name).read_text("utf-8")


def test_hl7_faults_name_segment_and_field() -> None:
    text = _hl7("adt_a01_admission.hl7")
    pv1 = next(line for line in text.splitlines() if line.startswith("PV1"))
    text = text.replace(pv1, pv1.replace("20260603104000+0800", "20260633"))
    with pytest.raises(AdapterError) as info:
        parse_bytes(text.encode(), "a01.hl7")
    assert (
        str(info.value)
        == "a01.hl7: line 4, segment PV1: field PV1-44: not a time (YYYYMMDDHHMM[SS])"
    )
    bad_system = _hl7("adt_a01_admission.hl7").replace("^ICD10|", "^SNOMED|", 1)
    with pytest.raises(
        AdapterError, match=r"line 5, segment DG1: field DG1-3.3: the coding system"
    ):
        parse_bytes(bad_system.encode(), "a01.hl7")
    no_id = _hl7("oru_r01_lab.hl7").replace("&2.16.156.10011.1.3&ISO^NNCHN", "&1.2.3&ISO^PPN")
    with pytest.raises(AdapterError, match=r"segment PID: field PID-3: no resident ID number"):
        parse_bytes(no_id.encode(), "oru.hl7")
    bad_id = _hl7("oru_r01_lab.hl7").replace("330784198603140511", "330784198603140519")
    with pytest.raises(AdapterError) as info:
        parse_bytes(bad_id.encode(), "oru.hl7")
    assert "oru.hl7: message LIS20260711135500088: field /patient/id_number" in str(info.value)
    assert "330784198603140519" not in str(info.value)
    with pytest.raises(AdapterError, match="field MSH-9: not one of"):
        parse_bytes(_hl7("oru_r01_lab.hl7").replace("ORU^R01^ORU_R01", "SIU^S12").encode(), "x")


def test_cda_faults_name_element_and_field() -> None:
    raw = sample("health", "cda_c0002_outpatient.xml").read_bytes()
    with pytest.raises(AdapterError) as info:
        parse_bytes(
            raw.replace(b'codeSystem="2.16.156.10011.2.3.3.11"', b'codeSystem="1.2.3"', 1), "c.xml"
        )
    text = str(info.value)
    assert "c.xml: line " in text and "/section/entry[1]/observation/value" in text
    assert (
        "field value/@codeSystem: diagnoses are coded in ICD-10 (2.16.156.10011.2.3.3.11)" in text
    )
    with pytest.raises(
        AdapterError, match=r"field patient/id\[@root='2.16.156.10011.1.3'\]: is missing"
    ):
        parse_bytes(
            raw.replace(b'root="2.16.156.10011.1.3"', b'root="2.16.156.10011.1.99"'), "c.xml"
        )
    with pytest.raises(AdapterError, match="document code not one of C0002 C0049 C0053"):
        parse_bytes(raw.replace(b'code="C0002"', b'code="C0001"'), "c.xml")


@pytest.mark.parametrize(
    "raw",
    [
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&x;</title></ClinicalDocument>',
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;">]>\n'
        b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&b;&b;&b;</title></ClinicalDocument>',
    ],
    ids=["xxe", "entity-expansion"],
)
def test_hostile_cda_is_refused(raw: bytes) -> None:
    with pytest.raises(AdapterError) as info:
        parse_bytes(raw, "evil.xml")
    assert str(info.value) == (
        "evil.xml: line 2: field (prolog): DOCTYPE and ENTITY declarations are not accepted"
    )


def test_summary_for_other_documents_is_flat() -> None:
    from gateway.messages import parse_event
    from gateway.messages.event import build_event

    doc = example(
        "assessment_conclusion",
        sorted((REPO / "schemas/examples/assessment_conclusion/valid").glob("*.json"))[0].stem,
    )
    payload = build_event(
        source="330700.hrss.assessment", type="cn.gov.zj.injury.assessment_conclusion.v1", data=doc
    )
    flat = summary(parse_event(payload))
    assert flat["msg_type"] == "ZJX^A01"
    assert all(not isinstance(v, dict | list) for v in flat.values())


async def test_diagnosis_certificate_reaches_recognition_exactly(
    tmp_path: Path, database: str | None
) -> None:
    parsed = parse_files(FAMILY, [sample("health", "diagnosis_certificate.json")])
    assert not parsed.errors and len(parsed.records) == 1
    async with running_gateway(tmp_path, database=database) as gw:
        report = await send_parsed(gw.client(HOSPITAL), parsed)
        assert report.ok and len(report.sent) == 1
        events = await pull_verified(gw, RECOGNITION)
    assert [e.data for e in events] == [example("medical_diagnosis", "finger_fracture")]
    assert events[0].type == "cn.gov.zj.injury.medical_diagnosis.v1"


def test_bad_diagnosis_certificate_names_the_field_not_the_value(tmp_path: Path) -> None:
    document = example("medical_diagnosis", "finger_fracture")
    document["patient"]["id_number"] = "330784198603140512"  # wrong check character
    path = tmp_path / "cert.json"
    path.write_text(json.dumps([{"type": "medical_diagnosis", "document": document}]))
    parsed = parse_files(FAMILY, [path])
    assert not parsed.records and len(parsed.errors) == 1
    text = str(parsed.errors[0])
    assert "id_number" in text and "330784198603140512" not in text
