"""The native adapters of police, market regulation and hrss upload the files exported
beside their records (``X.files/``) and reference them; a record whose file is refused is
refused by name and the others are sent."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from adapters.common import send_parsed
from adapters.common.cli import Family
from adapters.hrss import FAMILY as HRSS
from adapters.market import FAMILY as MARKET_FAMILY
from adapters.police import FAMILY as POLICE
from gateway.testing import running_gateway
from tests.adapters.conftest import sample
from tests.attachments.conftest import ofd_bytes, pdf_bytes, png_bytes

EXPORTS: list[tuple[Family, str, str, str, bytes]] = [
    (POLICE, "traffic_determination.xml", "330784.police.traffic", "scan.pdf", pdf_bytes()),
    (MARKET_FAMILY, "business_licence.json", "330784.market", "licence.ofd", ofd_bytes()),
    (HRSS, "recognition_decision.json", "330784.hrss.recognition", "decision.png", png_bytes()),
]


async def test_files_beside_records_travel_with_them(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        for family, name, department, file_name, content in EXPORTS:
            export = tmp_path / "out" / family.name / name
            export.parent.mkdir(parents=True)
            shutil.copy(sample(family.name, name), export)
            files = export.with_name(export.stem + ".files")
            files.mkdir()
            (files / file_name).write_bytes(content)
            report = await send_parsed(gw.client(department), family.parse_file(export))
            assert report.ok and len(report.sent) == 1, report.refused
        records = await gw.store.audit_entries(0, 100)
        accepted = [r.event.detail for r in records if r.event.action == "message.accepted"]
    assert [d["attachments"] for d in accepted] == [
        [hashlib.sha256(content).hexdigest()] for *_, content in EXPORTS
    ]


async def test_a_record_whose_file_is_refused_is_named_and_the_rest_sent(tmp_path: Path) -> None:
    exports = []
    for name, content in (
        ("traffic_determination.xml", pdf_bytes(hostile="launch")),
        ("police_certificate.xml", pdf_bytes()),
    ):
        export = tmp_path / name
        shutil.copy(sample("police", name), export)
        export.with_name(export.stem + ".files").mkdir()
        (export.with_name(export.stem + ".files") / "scan.pdf").write_bytes(content)
        exports.append(export)
    async with running_gateway(tmp_path, run_dispatcher=False) as gw:
        refused = await send_parsed(
            gw.client("330784.police.traffic"), POLICE.parse_file(exports[0])
        )
        sent = await send_parsed(gw.client("330784.police.station"), POLICE.parse_file(exports[1]))
    assert not refused.sent and len(sent.sent) == 1
    [line] = refused.refused
    assert str(exports[0]) in line and "attachment-content-refused" in line
