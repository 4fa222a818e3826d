"""Attachments through a real gateway on loopback, on both stores (DESIGN section 11):
upload and its refusals, references checked at acceptance, download by recipients only
(Range, ETag), the digest verified by the receiving side."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.link import SubmitError
from adapters.link.files import download, upload
from gateway.api.appkeys import ATTACHMENTS
from gateway.assembly import dev_key_path
from gateway.clock import ManualClock
from gateway.testing import GatewayHandle, running_gateway
from tests.adapters.conftest import REPO, pull_verified, sample
from tests.attachments.conftest import pdf_bytes, png_bytes, write
from tests.exchange.conftest import example

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"
MARKET = "330784.market"  # not addressed by an imaging report
IMAGING = "cn.gov.zj.injury.imaging_lab_report.v1"
PROBLEM = "urn:zj-exchange:problem:"


async def _post(gw: GatewayHandle, dept: str, data: bytes, content_type: str) -> tuple[int, Any]:
    client = gw.client(dept)
    async with gw.session.post(
        f"{gw.base_url}/v1/attachments",
        data=data,
        headers={"Authorization": f"Bearer {client.token()}", "Content-Type": content_type},
    ) as response:
        return response.status, await response.json(content_type=None)


async def _get(gw: GatewayHandle, dept: str, digest: str, **headers: str) -> tuple[int, Any]:
    client = gw.client(dept)
    async with gw.session.get(
        f"{gw.base_url}/v1/attachments/{digest}",
        headers={"Authorization": f"Bearer {client.token()}", **headers},
    ) as response:
        return response.status, (await response.read(), response.headers)


def _report(*refs: dict[str, Any]) -> dict[str, Any]:
    data = example("imaging_lab_report")
    data["attachments"] = list(refs)
    return data


async def test_upload_answers_digest_and_the_same_bytes_are_stored_once(
    tmp_path: Path, database: str | None
) -> None:
    data = pdf_bytes()
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        first = await _post(gw, HOSPITAL, data, "application/pdf")
        again = await _post(gw, HOSPITAL, data, "application/octet-stream")
        assert first == (
            201,
            {
                "digest": hashlib.sha256(data).hexdigest(),
                "media_type": "application/pdf",
                "size": len(data),
            },
        )
        assert again == (200, first[1])
        metrics = gw.metrics
        assert metrics.attachment_uploads._value.get() == 2
        assert metrics.attachment_bytes._value.get() == len(data)  # stored once


REFUSALS = [
    (
        b"<html><script>alert(1)</script></html>",
        "application/pdf",
        415,
        "attachment-type-not-allowed",
        "type",
    ),
    (png_bytes(), "application/pdf", 415, "attachment-type-mismatch", "declared-type"),
    (
        pdf_bytes(hostile="javascript"),
        "application/pdf",
        422,
        "attachment-content-refused",
        "pdf-javascript",
    ),
    (pdf_bytes(extra=b"x" * 5000), "application/pdf", 413, "attachment-too-large", "size"),
]


async def test_upload_refusals_name_their_rule(
    tmp_path: Path, database: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Size, type by bytes, declared type, PDF with JavaScript: each its problem type and
    rule, counted by rule, nothing stored or left behind."""
    monkeypatch.setenv("GATEWAY_ATTACHMENT_MAX_BYTES", "4096")
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        service = gw.app[ATTACHMENTS]
        for body, content_type, status, slug, rule in REFUSALS:
            got_status, problem = await _post(gw, HOSPITAL, body, content_type)
            assert (got_status, problem["type"], problem["rule"]) == (status, PROBLEM + slug, rule)
            assert gw.metrics.attachment_refusals.labels(rule)._value.get() == 1
            assert await service.find(hashlib.sha256(body).hexdigest()) is None
            assert not any(service.blobs.spool_dir.glob("*"))  # nothing left behind


async def test_a_referenced_attachment_reaches_its_recipients_only(
    tmp_path: Path, database: str | None
) -> None:
    data = pdf_bytes(extra=b"scan" * 100_000)
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        ref = await upload(gw.client(HOSPITAL), write(tmp_path, "scan.pdf", data), "CT scan")
        await gw.client(HOSPITAL).submit(IMAGING, _report(ref), event_id="img-1")
        got = await download(gw.client(RECOGNITION), ref, tmp_path / "in" / "scan.pdf")
        assert got.read_bytes() == data
        # not addressed by the message: 404, as for bytes that do not exist
        status, _ = await _get(gw, MARKET, ref["digest"])
        assert status == 404
        status, _ = await _get(gw, MARKET, "0" * 64)
        assert status == 404
        # a range, and the ETag
        status, (body, headers) = await _get(gw, RECOGNITION, ref["digest"], Range="bytes=10-19")
        assert (status, body, headers["Content-Range"]) == (
            206,
            data[10:20],
            f"bytes 10-19/{len(data)}",
        )
        status, (body, headers) = await _get(gw, RECOGNITION, ref["digest"], Range="bytes=-5")
        assert (status, body) == (206, data[-5:])
        status, _ = await _get(
            gw, RECOGNITION, ref["digest"], **{"If-None-Match": f'"{ref["digest"]}"'}
        )
        assert status == 304
        status, (body, _) = await _get(gw, RECOGNITION, ref["digest"], Range=f"bytes={len(data)}-")
        assert status == 416
        # the audit entry of the acceptance names the digest
        records = await gw.store.audit_entries(0, 100)
        entries = [r.event for r in records if r.event.action == "message.accepted"]
        assert entries[-1].detail["attachments"] == [ref["digest"]]


async def test_references_that_do_not_hold_are_refused_naming_the_pointer(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        own = await upload(gw.client(HOSPITAL), write(tmp_path, "own.pdf", pdf_bytes()))
        other = await upload(gw.client(MARKET), write(tmp_path, "m.png", png_bytes()))
        cases = [
            ({**own, "digest": "ab" * 32}, "attachment-missing", "/data/attachments/0/digest"),
            (other, "attachment-not-yours", "/data/attachments/0/digest"),
            ({**own, "size": own["size"] + 1}, "attachment-mismatch", "/data/attachments/0/size"),
            (
                {**own, "media_type": "image/png"},
                "attachment-mismatch",
                "/data/attachments/0/media_type",
            ),
        ]
        for i, (ref, slug, pointer) in enumerate(cases):
            with pytest.raises(SubmitError) as caught:
                await gw.client(HOSPITAL).submit(IMAGING, _report(ref), event_id=f"bad-{i}")
            problem = caught.value.problem
            assert (caught.value.status, problem["type"]) == (422, PROBLEM + slug)
            assert [e["pointer"] for e in problem["errors"]] == [pointer]
            assert await gw.store.find_message(HOSPITAL, f"bad-{i}") is None


async def test_two_instances_on_one_postgresql_share_attachments(
    tmp_path: Path, pg_url: str
) -> None:
    """Uploaded through one instance, fetched through the other: the bytes are in the
    database (the default store on PostgreSQL), not in either instance's directory."""
    data = pdf_bytes(extra=b"shared" * 400_000)  # a few chunks of the database store
    async with (
        running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as one,
        running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as two,
    ):
        ref = await upload(one.client(HOSPITAL), write(tmp_path, "s.pdf", data))
        await one.client(HOSPITAL).submit(IMAGING, _report(ref), event_id="shared-1")
        got = await download(two.client(RECOGNITION), ref, tmp_path / "in" / "s.pdf")
        assert got.read_bytes() == data
        status, (body, _) = await _get(two, RECOGNITION, ref["digest"], Range="bytes=1048570-")
        assert (status, body) == (206, data[1048570:])
        assert not list((tmp_path / "attachments").glob("??/*"))


async def test_orphans_are_purged_after_the_period_and_referenced_bytes_kept(
    tmp_path: Path, database: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ATTACHMENT_ORPHAN_SECONDS", "60")
    clock = ManualClock(datetime.now(UTC))
    async with running_gateway(
        tmp_path, database=database, run_dispatcher=False, clock=clock
    ) as gw:
        kept = await upload(gw.client(HOSPITAL), write(tmp_path, "k.pdf", pdf_bytes()))
        orphan = await upload(gw.client(HOSPITAL), write(tmp_path, "o.png", png_bytes()))
        await gw.client(HOSPITAL).submit(IMAGING, _report(kept), event_id="keep-1")
        service = gw.app[ATTACHMENTS]
        assert await service.purge() == 0  # too young
        clock.advance(timedelta(seconds=61))
        assert await service.purge() == 1
        assert await service.find(orphan["digest"]) is None
        assert await service.find(kept["digest"]) is not None
        status, _ = await _get(gw, RECOGNITION, kept["digest"])
        assert status == 200


async def test_adapter_send_attach_uploads_and_references_the_file(
    tmp_path: Path, database: str | None
) -> None:
    """``python -m adapters.police send --attach FILE``: the recipient finds the reference in
    the signed document and downloads the bytes, verified."""
    department = "330784.police.traffic"
    scan = write(tmp_path, "determination.pdf", pdf_bytes(extra=b"stamp" * 1000))
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        argv = [
            "-m", "adapters.police", "send", str(sample("police", "traffic_determination.xml")),
            "--gateway", gw.base_url, "--key", str(dev_key_path(gw.data_dir, department)),
            "--attach", str(scan),
        ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv, cwd=REPO, stderr=asyncio.subprocess.PIPE
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        events = await pull_verified(gw, RECOGNITION)
        [ref] = events[0].data["attachments"]
        assert ref["title"] == "determination.pdf"
        got = await download(gw.client(RECOGNITION), ref, tmp_path / "in" / "d.pdf")
        assert got.read_bytes() == scan.read_bytes()


async def test_the_same_bytes_uploaded_at_once_are_one_attachment(
    tmp_path: Path, database: str | None
) -> None:
    data = pdf_bytes(extra=b"once" * 400_000)  # two chunks of the database store
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        answers = await asyncio.gather(
            *(_post(gw, HOSPITAL, data, "application/pdf") for _ in range(3))
        )
        assert {status for status, _ in answers} <= {200, 201}
        assert {body["digest"] for _, body in answers} == {hashlib.sha256(data).hexdigest()}
        status, (body, _) = await _get(gw, HOSPITAL, answers[0][1]["digest"])
        assert (status, body) == (200, data)
