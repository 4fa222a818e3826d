"""An S3-compatible object store for attachment bytes (``GATEWAY_ATTACHMENT_STORE=s3``),
shared by every instance that names the same bucket.

Objects are ``<prefix><digest>``. Written with boto3's managed transfer (multipart above
8 MiB, read from the spooled file in parts, so never held whole in memory) and read with
``Range`` requests in chunks; boto3 is synchronous, so each call runs in a worker thread.
Configured by ``GATEWAY_ATTACHMENT_S3_ENDPOINT`` (e.g. a MinIO or Ceph RGW URL),
``GATEWAY_ATTACHMENT_S3_BUCKET`` and ``GATEWAY_ATTACHMENT_S3_PREFIX``; credentials and region
from boto3's usual chain (``AWS_ACCESS_KEY_ID``...). Tested against moto's server mode: no
S3 server is installed here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from gateway.problems import StoreError

READ_CHUNK = 256 * 1024


class S3Blobs:
    def __init__(self, endpoint: str | None, bucket: str, prefix: str, spool_dir: Path) -> None:
        self._client: Any = boto3.client("s3", endpoint_url=endpoint)
        self._bucket = bucket
        self._prefix = prefix
        self.spool_dir = spool_dir

    def _key(self, digest: str) -> str:
        return f"{self._prefix}{digest}"

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._client, name), *args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"attachments: S3 {name} failed ({type(exc).__name__})") from exc

    async def put(self, digest: str, spooled: Path) -> None:
        try:
            await self._call("upload_file", str(spooled), self._bucket, self._key(digest))
        finally:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(spooled.unlink)

    async def has(self, digest: str) -> bool:
        try:
            await asyncio.to_thread(
                self._client.head_object, Bucket=self._bucket, Key=self._key(digest)
            )
        except ClientError:
            return False
        return True

    async def read(self, digest: str, start: int, end: int) -> AsyncIterator[bytes]:
        answer = await self._call(
            "get_object",
            Bucket=self._bucket,
            Key=self._key(digest),
            Range=f"bytes={start}-{end - 1}",
        )
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, digest: str) -> None:
        await self._call("delete_object", Bucket=self._bucket, Key=self._key(digest))
