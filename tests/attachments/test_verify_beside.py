"""``gateway verify`` checks the files kept beside a delivered message against the
references its signed document lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.link.files import download, upload
from gateway.cli import main
from gateway.testing import running_gateway
from tests.attachments.conftest import pdf_bytes, write
from tests.attachments.test_exchange import HOSPITAL, IMAGING, RECOGNITION, _report


async def test_verify_checks_the_attachments_beside_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = pdf_bytes(extra=b"kept" * 1000)
    out = tmp_path / "received"
    async with running_gateway(tmp_path, run_dispatcher=False) as gw:
        ref = await upload(gw.client(HOSPITAL), write(tmp_path, "k.pdf", data))
        await gw.client(HOSPITAL).submit(IMAGING, _report(ref), event_id="kept-1")
        recognition = gw.client(RECOGNITION)
        [record] = await gw.store.inbox(RECOGNITION, 0, 10)
        message = out / "00000001-kept-1.json"
        saved = out / "00000001-kept-1.attachments" / f"{ref['digest']}.pdf"
        await download(recognition, ref, saved)
    message.write_bytes(record.body)
    verify = ["verify", "--data-dir", str(tmp_path), str(message)]
    assert main(verify) == 0
    assert "/data/attachments/0: " in capsys.readouterr().out
    # altered bytes beside the message: named, and the verdict is INVALID
    saved.write_bytes(data[:-1] + b"\x00")
    assert main(verify) == 1
    printed = capsys.readouterr().out
    assert "INVALID attachment /data/attachments/0: no file" in printed
