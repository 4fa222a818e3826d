"""Each example of real department data that main refused or silently altered, as a test
asserting the right value: codes of the national editions, identity numbers of every kind,
HL7 escapes, nulls, names and phones, MSH-4, XML encodings, CDA data elements, and one bad
amount in a run that still sends the good records."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.common import AdapterError
from adapters.common.cli import parse_files
from adapters.common.records import registry
from adapters.common.settings import Institution, SettingsError, institution_from
from adapters.health import FAMILY, parse_bytes
from adapters.police import parse_bytes as police_bytes
from gateway.testing import running_gateway
from tests.adapters.conftest import BENEFITS, MEDINSURANCE, REPO, pull_verified, sample

HOSPITAL = Institution("12330784470802315K", "永康市第一人民医院")
OTHER_USCC = "91110000600037341L"


def _oru(obx5: str, pid13: str = "13857912346", pv1_3: str = "手足外科") -> bytes:
    text = sample("health", "oru_r01_lab.hl7").read_text("utf-8")
    text = text.replace("|13857912346\n", f"|{pid13}\n").replace(
        "PV1|1|E|手足外科", f"PV1|1|E|{pv1_3}"
    )
    text = text.replace("OBX|2|NM|HGB^血红蛋白||142|", f"OBX|2|TX|FINDINGS^所见||{obx5}|")
    return text.encode()


def _findings(obx5: str) -> str:
    return str(parse_bytes(_oru(obx5), "oru.hl7").data["findings"])


# --- codes --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["S62.600x001", "S62.600", "S61.100", "C73.x00", "E05.900x001"])
def test_national_clinical_codes_pass_adapter_and_gateway(code: str) -> None:
    text = sample("health", "adt_a01_admission.hl7").read_text("utf-8")
    record = parse_bytes(text.replace("S52.5^", f"{code}^").encode(), "a01.hl7")
    [first, _] = record.data["admission_diagnoses"]
    assert (first["code"], first["code_edition"]) == (code, "cn_clinical_2.0")
    assert registry().validate(record.type, record.data) == []  # the gateway's own registry


@pytest.mark.parametrize("code", ["86.2200x003", "06.7x02"])
def test_clinical_edition_operation_codes_pass(code: str) -> None:
    text = sample("health", "adt_a03_discharge.hl7").read_text("utf-8")
    record = parse_bytes(text.replace("79.34^", f"{code}^").encode(), "a03.hl7")
    [op] = record.data["operations"]
    assert (op["code"], op["code_edition"]) == (code, "cn_clinical_3.0")


def test_a_dagger_asterisk_pair_is_two_diagnoses() -> None:
    text = sample("health", "adt_a01_admission.hl7").read_text("utf-8")
    record = parse_bytes(text.replace("S52.5^", "A17.0†G01*^").encode(), "a01.hl7")
    codes = [(d["code"], d["code_edition"]) for d in record.data["admission_diagnoses"]]
    assert codes == [("A17.0†", "who"), ("G01*", "who"), ("T14.0", "who")]


# --- identity numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("830000199408230025", "tw_residence_permit"),
        ("810000199408230021", "hk_residence_permit"),
        ("820000199408230023", "mo_residence_permit"),
        ("933840198001010019", "foreign_permanent_residence"),
    ],
)
def test_every_kind_of_identity_number_is_sent_with_its_kind(number: str, kind: str) -> None:
    raw = sample("police", "resident_identity.xml").read_text("utf-8")
    record = police_bytes(raw.replace("330784198603140511", number).encode(), "rid.xml")
    assert (record.data["id_number"], record.data["id_kind"]) == (number, kind)


def test_a_place_code_that_does_not_exist_is_refused() -> None:
    raw = sample("police", "resident_identity.xml").read_text("utf-8")
    with pytest.raises(AdapterError) as info:
        police_bytes(raw.replace("<RegionCode>330784<", "<RegionCode>339999<").encode(), "r.xml")
    assert "field RegionCode: not a valid region code (not in the GB/T 2260 table)" in str(
        info.value
    )


# --- HL7 v2 text as the standard writes it -----------------------------------------------------


def test_a_malformed_escape_keeps_the_whole_text() -> None:
    assert _findings("L4\\5椎间盘突出") == "L4\\5椎间盘突出"


def test_an_escaped_escape_character_is_one_backslash() -> None:
    assert _findings("\\E\\R\\") == "\\R\\"


def test_highlighting_is_dropped_to_plain_text() -> None:
    assert _findings("\\H\\12.5\\N\\") == "12.5"


def test_delimiters_line_breaks_and_hex_are_unescaped() -> None:
    assert _findings("a\\F\\b\\S\\c\\T\\d\\R\\e\\.br\\f\\X41\\") == "a|b^c&d~e\nfA"


def test_declared_delimiters_are_honoured() -> None:
    """The same message with '!' as field and '#' as component separator (MSH-1, MSH-2)."""
    text = _oru("a\\F\\b\\S\\c").decode().replace("|", "!").replace("^", "#")
    record = parse_bytes(text.encode(), "bang.hl7")
    assert record.data["findings"] == "a!b#c"
    assert record.data["hospital"]["credit_code"] == "12330784470802315K"  # MSH-4.2
    assert record.data["results"][0]["item"] == "白细胞计数"  # OBX-3.2


def test_an_explicit_null_phone_is_absent_not_refused() -> None:
    record = parse_bytes(_oru("x", pid13='""'), "oru.hl7")
    assert "phone" not in record.data["patient"]


def test_an_explicit_null_department_is_absent_not_named_quotes() -> None:
    record = parse_bytes(_oru("x", pv1_3='""'), "oru.hl7")
    assert "requesting_department" not in record.data


def test_whole_names_and_the_xtn_phone() -> None:
    record = parse_bytes(_oru("x", pid13="^PRN^CP^^^0579^87123456"), "oru.hl7")
    text = (
        sample("health", "oru_r01_lab.hl7").read_text("utf-8").replace("||陈志强||", "||陈^志强||")
    )
    record2 = parse_bytes(text.replace("|^金晓红", "|^金^晓红").encode(), "oru.hl7")
    assert record.data["patient"]["phone"] == "0579-87123456"
    assert record2.data["patient"]["name"] == "陈志强"
    assert record2.data["reporting_doctor"]["name"] == "金晓红"


def test_dg1_6_decides_admission_and_discharge_diagnoses() -> None:
    text = sample("health", "adt_a03_discharge.hl7").read_text("utf-8")
    text = text.replace(
        "DG1|4||S61.0^右手中指开放性伤口^ICD10|||F|", "DG1|4||S61.0^右手中指开放性伤口^ICD10|||A|"
    )
    record = parse_bytes(text.encode(), "a03.hl7")
    assert [d["code"] for d in record.data["admission_diagnoses"]] == ["S62.6", "S61.0", "S61.0"]
    assert [d["code"] for d in record.data["discharge_diagnoses"]] == ["S62.6"]
    with pytest.raises(AdapterError, match="field DG1-6: not one of A F W"):
        parse_bytes(text.replace("|||A|", "|||Q|", 1).encode(), "a03.hl7")


# --- the sending institution ------------------------------------------------------------------


def test_msh4_local_facility_id_uses_the_configured_institution() -> None:
    raw = sample("health", "county_adt_a03_local_facility.hl7").read_bytes()
    record = parse_bytes(raw, "adt.hl7", HOSPITAL)
    assert record.data["hospital"]["credit_code"] == HOSPITAL.credit_code


def test_msh4_credit_code_other_than_the_configured_one_is_refused() -> None:
    raw = sample("health", "adt_a03_discharge.hl7").read_bytes()
    assert parse_bytes(raw, "a03.hl7", HOSPITAL).data["hospital"]["name"] == "永康市第一人民医院"
    with pytest.raises(AdapterError) as info:
        parse_bytes(raw, "a03.hl7", Institution(OTHER_USCC, "x"))
    assert str(info.value).endswith(
        "field MSH-4.2: the credit code differs from the adapter's configured institution"
    )


def test_a_bad_configured_credit_code_is_a_usage_error() -> None:
    with pytest.raises(SettingsError, match="--institution: not a valid unified social credit"):
        institution_from("12330784470802315J", None)


# --- XML encodings --------------------------------------------------------------------------


def test_a_latin1_declaration_over_utf8_bytes_is_refused_not_garbled() -> None:
    raw = sample("police", "resident_identity.xml").read_text("utf-8")
    raw = raw.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("utf-8")
    with pytest.raises(AdapterError) as info:
        police_bytes(raw, "police.xml")
    assert str(info.value) == (
        "police.xml: line 1: field (prolog): declared encoding ISO-8859-1 is not accepted "
        "(UTF-8, GB2312, GBK, GB18030)"
    )


def test_a_gb2312_declaration_with_a_gbk_only_character_is_decoded() -> None:
    raw = sample("police", "resident_identity.xml").read_text("utf-8")
    raw = raw.replace('encoding="UTF-8"', 'encoding="GB2312"').replace("陈志强", "陈喆")
    record = police_bytes(raw.encode("gbk"), "police.xml")
    assert record.data["name"] == "陈喆"


def test_bytes_that_do_not_decode_under_the_declaration_are_refused() -> None:
    raw = sample("police", "resident_identity.xml").read_text("utf-8").encode("gbk")
    with pytest.raises(AdapterError) as info:
        police_bytes(raw, "police.xml")
    assert "police.xml: line 2: field (document): bytes do not decode as the declared " in str(
        info.value
    )


# --- CDA by section and data element ----------------------------------------------------------


def test_cda_required_element_missing_is_refused_naming_section_and_element() -> None:
    raw = sample("health", "county_cda_c0049_gbk.xml").read_bytes().decode("gbk")
    cut = raw.replace('code="DE06.00.287.00"', 'code="DE06.00.999.00"')
    with pytest.raises(AdapterError) as info:
        parse_bytes(cut.encode("gbk"), "c0049.xml")
    assert "field section 18776-5 element DE06.00.287.00: is missing (WS/T 500: required)" in str(
        info.value
    )


def test_cda_birth_date_from_birth_time_else_the_id_number() -> None:
    raw = sample("health", "cda_c0049_discharge.xml").read_text("utf-8")
    assert parse_bytes(raw.encode(), "c.xml").data["patient"]["birth_date"] == "1986-03-14"
    other = raw.replace('<birthTime value="19860314"/>', '<birthTime value="19860315"/>')
    assert parse_bytes(other.encode(), "c.xml").data["patient"]["birth_date"] == "1986-03-15"
    none = raw.replace('<birthTime value="19860314"/>', "")
    assert parse_bytes(none.encode(), "c.xml").data["patient"]["birth_date"] == "1986-03-14"


# --- one bad amount in a run --------------------------------------------------------------------


def _settlement(tmp: Path, name: str, change: dict[str, Any]) -> Path:
    tx = json.loads(sample("medical_insurance", "settlement_inpatient.json").read_text("utf-8"))
    tx["output"]["setlinfo"].update(change)
    path = tmp / name
    path.write_text(json.dumps(tx, ensure_ascii=False), "utf-8")
    return path


async def test_an_amount_of_1e30_is_refused_and_the_good_records_are_sent(
    tmp_path: Path, database: str | None
) -> None:
    good = _settlement(tmp_path, "good.json", {})
    bad = _settlement(tmp_path, "bad.json", {"medfee_sumamt": "1e30", "setl_id": "YB-BAD"})
    async with running_gateway(tmp_path / "gw", database=database) as gw:
        key = gw.data_dir / "dev-keys" / f"{MEDINSURANCE}.jwk"  # written at the first start
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.medical_insurance", "send", str(bad), str(good),
            "--key", str(key), "--gateway", gw.base_url,
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        events = await pull_verified(gw, BENEFITS)
    assert proc.returncode == 1
    [event] = events
    assert out.decode().splitlines() == [f"sent: {good}: transaction -> {event.id}"]
    lines = err.decode().splitlines()
    assert lines[0] == (
        f"refused: {bad}: output.setlinfo: field medfee_sumamt: "
        "not a non-negative amount below 10^15 yuan"
    )
    assert "Traceback" not in err.decode() and "1e30" not in err.decode().replace(str(bad), "")
    assert lines[-1] == "medical_insurance: 1 sent, 0 already sent, 1 refused"


def test_a_file_whose_reader_fails_unexpectedly_is_that_files_refusal(tmp_path: Path) -> None:
    from adapters.common.cli import Family

    def broken(path: Path) -> Any:
        raise ZeroDivisionError("secret 330784198603140511")

    parsed = parse_files(Family("x", broken, FAMILY.to_native), [tmp_path / "a.hl7"])
    [error] = parsed.errors
    assert str(error).endswith("field (document): could not be read (ZeroDivisionError)")
    assert "330784" not in str(error)


def test_hl7_in_gb18030_as_msh18_declares_it() -> None:
    text = _oru("所见\\XE590A2\\").decode().replace("|CHN|UTF-8", "|CHN|GB 18030-2000")
    record = parse_bytes(text.encode("gb18030"), "oru.hl7")
    assert record.data["patient"]["name"] == "陈志强"
    assert record.data["findings"] == "所见\\XE590A2\\"  # not GB 18030 bytes: kept as written
    hexed = text.replace("\\XE590A2\\", "\\XB4ED\\")  # 错 in GB 18030
    assert parse_bytes(hexed.encode("gb18030"), "oru.hl7").data["findings"] == "所见错"


def test_the_insurance_platform_codes_in_the_insurance_edition(tmp_path: Path) -> None:
    from adapters.medical_insurance import parse_file as settlement_file

    path = _settlement(tmp_path, "s.json", {})
    tx = json.loads(path.read_text("utf-8"))
    tx["output"]["diseinfo"][0]["diag_code"] = "S62.600x001"
    path.write_text(json.dumps(tx, ensure_ascii=False), "utf-8")
    [record] = settlement_file(path).records
    first, second = record.data["diagnoses"]
    assert (first["code"], first["code_edition"]) == ("S62.600x001", "cn_insurance_2.0")
    assert (second["code"], second["code_edition"]) == ("S61.0", "who")


def test_outpatient_sections_with_empty_text_are_read_from_their_entries() -> None:
    raw = sample("health", "cda_c0002_outpatient.xml").read_text("utf-8")
    text = "<text>右手中指被冲床压伤后疼痛流血半小时。</text>"
    assert text in raw
    entry = (
        '<text/><entry><observation classCode="OBS" moodCode="EVN">'
        '<code code="DE04.01.119.00" displayName="主诉"/>'
        '<value xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ST">'
        "右手中指被冲床压伤后疼痛流血半小时。</value></observation></entry>"
    )
    record = parse_bytes(raw.replace(text, entry).encode(), "c0002.xml")
    assert record.data["chief_complaint"] == "右手中指被冲床压伤后疼痛流血半小时。"
    with pytest.raises(AdapterError, match="required property 'chief_complaint' is missing"):
        parse_bytes(raw.replace(text, "<text/>").encode(), "c0002.xml")  # required: refused
    illness = "<text>患者半小时前工作时右手中指被冲床压伤，伤后局部疼痛、出血、活动受限。</text>"
    empty = parse_bytes(raw.replace(illness, "<text/>").encode(), "c0002.xml")
    assert "present_illness" not in empty.data  # optional: absent
