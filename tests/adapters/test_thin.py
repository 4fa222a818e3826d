"""Thin adapters (hrss units, market regulation, citizen portal): canonical JSON in, through a
real gateway, canonical JSON out at the recipient, verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters import hrss, market, zlb
from adapters.common import send_parsed
from adapters.common.cli import Family, parse_files
from gateway.testing import running_gateway
from tests.adapters.conftest import HOSPITAL, RECOGNITION, example, pull_verified, sample

CASES = [
    (market.FAMILY, "330784.market", "business_licence.json", RECOGNITION,
     [("business_licence", "huarui")]),
    (zlb.FAMILY, "330784.zlb", "application_with_witness.json", RECOGNITION,
     [("application_form", "workplace_press"), ("witness_statement", "coworker_press")]),
    (hrss.FAMILY, "330784.hrss.recognition", "recognition_decision.json", HOSPITAL,
     [("recognition_decision", "press_recognised")]),
]  # fmt: skip


@pytest.mark.parametrize(
    "family,department,file,recipient,expected", CASES, ids=["market", "zlb", "hrss"]
)
async def test_sample_reaches_recipient_exactly(
    tmp_path: Path,
    family: Family,
    department: str,
    file: str,
    recipient: str,
    expected: list[tuple[str, str]],
    database: str | None,
) -> None:
    parsed = parse_files(family, [sample(family.name, file)])
    assert not parsed.errors
    async with running_gateway(tmp_path, database=database) as gw:
        report = await send_parsed(gw.client(department), parsed)
        assert report.ok and len(report.sent) == len(expected)
        again = await send_parsed(
            gw.client(department), parse_files(family, [sample(family.name, file)])
        )
        assert again.sent == [] and len(again.already) == len(expected)
        pulled = await pull_verified(gw, recipient)
    # an application form also opens a case, whose service writes to the recognition centre
    events = [e for e in pulled if e.source == department]
    assert {e.source for e in pulled} <= {department, "330784.onething"}
    assert [e.data for e in events] == [example(n, f) for n, f in expected]
    ext, native = family.to_native(events[0])
    assert ext == "json" and json.loads(native)["document"] == events[0].data


def test_bad_documents_are_named_and_the_good_ones_kept(tmp_path: Path) -> None:
    good = example("application_form", "workplace_press")
    bad = example("witness_statement", "coworker_press")
    bad["witness"]["id_number"] = "330784198603140512"
    path = tmp_path / "zlb.json"
    path.write_text(
        json.dumps(
            [
                {"type": "application_form", "document": good},
                {"type": "witness_statement", "document": bad},
                {"type": "business_licence", "document": {}},
            ],
            ensure_ascii=False,
        ),
        "utf-8",
    )
    parsed = zlb.parse_file(path)
    assert [r.place for r in parsed.records] == ["document 1"]
    messages = [str(e) for e in parsed.errors]
    assert messages[0].startswith(f"{path}: document 2: field /witness/id_number: ")
    assert "330784198603140512" not in messages[0]
    assert (
        messages[1]
        == f"{path}: document 3: field type: not one of application_form employer_statement "
        "payee_bank_account witness_statement"
    )
    path.write_text('{"type": "business_licence", "type": "x", "document": {}}', "utf-8")
    assert "not valid JSON" in str(parse_files(market.FAMILY, [path]).errors[0])


async def test_a_record_goes_under_the_case_it_answers(
    tmp_path: Path, database: str | None
) -> None:
    """A business licence names no case; answering a material request it is sent under the
    request's case id, and the case layer counts it."""
    parsed = parse_files(market.FAMILY, [sample("market", "business_licence.json")])
    assert parsed.records and parsed.records[0].subject is None
    async with running_gateway(tmp_path, database=database) as gw:
        report = await send_parsed(gw.client("330784.market"), parsed, case_id="GS-1")
        assert report.ok and len(report.sent) == 1
        events = await pull_verified(gw, RECOGNITION)
    assert [e.subject for e in events] == ["GS-1"]
