"""Police XML exports -> adapter -> real gateway -> the recognition centre's inbox."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from adapters.common import AdapterError, event_id_for, send_parsed
from adapters.common.cli import Family, parse_files
from adapters.common.xml import hardened_parser
from adapters.police import FAMILY, parse_bytes, parse_file, to_native
from gateway.assembly import dev_key_path
from gateway.testing import running_gateway
from tests.adapters.conftest import RECOGNITION, REPO, example, pull_verified, sample

SAMPLES = {
    "resident_identity.xml": ("resident_id_info", "chen_zhiqiang", "330784.police.household"),
    "traffic_determination.xml": (
        "traffic_accident_determination",
        "ebikes_equal",
        "330784.police.traffic",
    ),
    "police_certificate.xml": ("police_certificate", "call_out_assault", "330784.police.station"),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
async def test_sample_reaches_recognition_exactly(
    tmp_path: Path, name: str, database: str | None
) -> None:
    schema_name, example_file, department = SAMPLES[name]
    parsed = parse_file(sample("police", name))
    async with running_gateway(tmp_path, database=database) as gw:
        report = await send_parsed(gw.client(department), parsed)
        assert report.ok and len(report.sent) == 1
        events = await pull_verified(gw, RECOGNITION)
    assert len(events) == 1
    event = events[0]
    assert event.source == department
    assert event.type == f"cn.gov.zj.injury.{schema_name}.v1"
    assert event.data == example(schema_name, example_file)
    assert event.id == event_id_for(department, event.type, parsed.records[0].key)
    ext, native = to_native(event)
    assert ext == "xml" and etree.fromstring(native).get("id") == event.id


async def test_cli_send_twice_sends_once(tmp_path: Path, database: str | None) -> None:
    department = "330784.police.traffic"
    async with running_gateway(tmp_path, database=database) as gw:
        key = dev_key_path(gw.data_dir, department)
        argv = [
            "-m", "adapters.police", "send", str(sample("police", "traffic_determination.xml")),
            "--gateway", gw.base_url, "--key", str(key),
        ]  # fmt: skip
        for _ in range(2):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, *argv, cwd=REPO,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
        assert b"0 sent, 1 already sent" in err
        events = await pull_verified(gw, RECOGNITION)
    assert [e.data for e in events] == [example("traffic_accident_determination", "ebikes_equal")]


def _raw(name: str) -> str:
    return sample("police", name).read_text(encoding="utf-8")


def test_missing_field_names_file_element_and_field() -> None:
    raw = _raw("traffic_determination.xml").replace("<Liability>同等责任</Liability>", "", 1)
    with pytest.raises(AdapterError) as info:
        parse_bytes(raw.encode(), "td.xml")
    text = str(info.value)
    assert text.startswith("td.xml: line ")
    assert "/TrafficAccidentDetermination/Parties/Party[1]" in text
    assert "field Liability: is missing" in text


def test_unknown_code_is_named_without_the_value() -> None:
    raw = _raw("traffic_determination.xml").replace("同等责任", "半责", 1)
    with pytest.raises(AdapterError) as info:
        parse_bytes(raw.encode(), "td.xml")
    assert "field Liability: not one of" in str(info.value)
    assert "半责" not in str(info.value)


def test_bad_id_number_is_refused_locally_without_the_value() -> None:
    raw = _raw("resident_identity.xml").replace("330784198603140511", "330784198603140512")
    with pytest.raises(AdapterError) as info:
        parse_bytes(raw.encode(), "rid.xml")
    text = str(info.value)
    assert text.startswith("rid.xml: line 5, element /ResidentIdentity/IdNumber: field IdNumber: ")
    assert "GB 11643" in text and "330784198603140512" not in text


def test_schema_fault_in_a_list_names_the_native_element() -> None:
    raw = _raw("traffic_determination.xml").replace("330784197911020867", "330784197911020868")
    with pytest.raises(AdapterError) as info:
        parse_bytes(raw.encode(), "td.xml")
    assert str(info.value).startswith(
        "td.xml: line 22, element /TrafficAccidentDetermination/Parties/Party[2]/IdNumber: "
        "field IdNumber: "
    )


def test_bad_date_and_malformed_xml() -> None:
    raw = _raw("police_certificate.xml").replace("20260820", "20260231")
    with pytest.raises(AdapterError, match="field IssuedDate: not a date"):
        parse_bytes(raw.encode(), "pc.xml")
    with pytest.raises(AdapterError, match=r"pc.xml: line 4: field \(document\): not well-formed"):
        parse_bytes(b"<?xml version='1.0'?>\n<PoliceCertificate>\n<A>\n</B>", "pc.xml")


async def test_malformed_file_sends_nothing(tmp_path: Path, database: str | None) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(_raw("police_certificate.xml").replace("<Role>证人</Role>", "<Role>?</Role>"))
    parsed = parse_files(FAMILY, [bad])
    assert not parsed.records and len(parsed.errors) == 1
    assert "element /PoliceCertificate/Persons/Person[3]" in str(parsed.errors[0])
    async with running_gateway(tmp_path / "gw", database=database) as gw:
        report = await send_parsed(gw.client("330784.police.station"), parsed)
        assert not report.ok and not report.sent
        assert await pull_verified(gw, RECOGNITION) == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ResidentIdentity><Name>&lol9;</Name></ResidentIdentity>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ResidentIdentity><Name>&xxe;</Name></ResidentIdentity>
"""


@pytest.mark.parametrize("raw", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_hostile_xml_is_refused_without_expansion(raw: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(AdapterError) as info:
        parse_bytes(raw, "hostile.xml")
    assert time.perf_counter() - started < 1.0
    assert "hostile.xml: line 2: field (prolog): DOCTYPE and ENTITY" in str(info.value)
    assert "root:" not in str(info.value)


@pytest.mark.parametrize("raw", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_the_parser_itself_never_expands(raw: bytes) -> None:
    """Defence in depth: even past the declaration check, the parser expands nothing
    (libxml2 may also refuse the bomb on its own: that is fine too)."""
    try:
        root = etree.fromstring(raw, parser=hardened_parser())
    except etree.XMLSyntaxError:
        return
    name = root.find("Name")
    assert name is not None
    assert "root:" not in etree.tostring(root).decode()
    assert len(etree.tostring(root)) < 2000


def test_family_is_complete() -> None:
    assert isinstance(FAMILY, Family)
    assert all((REPO / "adapters" / "police" / f).exists() for f in ("README.md", "__main__.py"))
