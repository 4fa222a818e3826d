"""The S3-compatible store, against moto's server mode (a real HTTP S3 endpoint on loopback:
no S3 server installs here). The bytes go to the bucket, not the data directory."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from adapters.link.files import download, upload
from gateway.api.appkeys import ATTACHMENTS
from gateway.clock import ManualClock
from gateway.testing import running_gateway
from tests.attachments.conftest import pdf_bytes, write
from tests.attachments.test_exchange import HOSPITAL, IMAGING, RECOGNITION, _get, _report

BUCKET = "zjx-attachments"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "GATEWAY_ATTACHMENT_STORE": "s3",
        "GATEWAY_ATTACHMENT_S3_ENDPOINT": s3_endpoint,
        "GATEWAY_ATTACHMENT_S3_BUCKET": BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


async def test_attachments_travel_through_an_s3_bucket(
    tmp_path: Path, database: str | None, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ATTACHMENT_ORPHAN_SECONDS", "60")
    clock = ManualClock(datetime.now(UTC))
    data = pdf_bytes(extra=b"bucket" * 1_450_000)  # 8.7 MB: a multipart upload (over 8 MiB)
    async with running_gateway(
        tmp_path, database=database, run_dispatcher=False, clock=clock
    ) as gw:
        ref = await upload(gw.client(HOSPITAL), write(tmp_path, "b.pdf", data))
        orphan = await upload(gw.client(HOSPITAL), write(tmp_path, "o.pdf", pdf_bytes()))
        head = s3_bucket.head_object(Bucket=BUCKET, Key=f"attachments/{ref['digest']}")
        assert head["ContentLength"] == len(data)
        await gw.client(HOSPITAL).submit(IMAGING, _report(ref), event_id="s3-1")
        got = await download(gw.client(RECOGNITION), ref, tmp_path / "in" / "b.pdf")
        assert got.read_bytes() == data
        status, (body, _) = await _get(gw, RECOGNITION, ref["digest"], Range="bytes=100-199")
        assert (status, body) == (206, data[100:200])
        assert not list((tmp_path / "attachments").glob("??/*"))  # nothing on local disk
        # the orphan leaves the bucket after the period; the referenced object stays
        clock.advance(timedelta(seconds=61))
        assert await gw.app[ATTACHMENTS].purge() == 1
    keys = [o["Key"] for o in s3_bucket.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [f"attachments/{ref['digest']}"]
    assert orphan["digest"] not in str(keys)
