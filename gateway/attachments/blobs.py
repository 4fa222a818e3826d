"""Where an attachment's bytes live, behind one interface (``Blobs``).

- ``FilesystemBlobs`` (the default on the embedded store): content-addressed files
  ``<root>/<ab>/<cd>/<digest>``. A spooled upload (already fsynced) is renamed into place and
  its directory fsynced, so the bytes are durable before the upload is answered, hence before
  any message referencing them can commit. The same bytes land on the same name: stored once.
- ``DatabaseBlobs`` (the default on PostgreSQL, which several instances share): the bytes in
  ``attachment_chunks``, 1 MiB a row, written in one transaction.

Both read a byte range as a stream of chunks; neither holds a whole file in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from gateway.attachments.database import Database

READ_CHUNK = 256 * 1024
DB_CHUNK = 1024 * 1024


class Blobs(Protocol):
    #: where uploads are spooled before ``put``
    spool_dir: Path

    async def put(self, digest: str, spooled: Path) -> None:
        """Keep the (fsynced) file ``spooled`` as ``digest``; durable when this returns.
        ``spooled`` is consumed (moved or deleted)."""
        ...

    async def has(self, digest: str) -> bool: ...

    def read(self, digest: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` up to (not including) ``end``, in chunks."""
        ...

    async def delete(self, digest: str) -> None: ...


class FilesystemBlobs:
    def __init__(self, root: Path) -> None:
        self.root = root
        #: where uploads are spooled: the same file system, so the rename is atomic
        self.spool_dir = root / "tmp"

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    async def put(self, digest: str, spooled: Path) -> None:
        await asyncio.to_thread(self._put, digest, spooled)

    def _put(self, digest: str, spooled: Path) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(spooled, target)
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def has(self, digest: str) -> bool:
        return await asyncio.to_thread(self.path(digest).is_file)

    async def read(self, digest: str, start: int, end: int) -> AsyncIterator[bytes]:
        f = await asyncio.to_thread(self.path(digest).open, "rb")
        try:
            await asyncio.to_thread(f.seek, start)
            left = end - start
            while left > 0:
                chunk = await asyncio.to_thread(f.read, min(READ_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self.path(digest).unlink)


class DatabaseBlobs:
    def __init__(self, db: Database, spool_dir: Path) -> None:
        self._db = db
        self.spool_dir = spool_dir

    async def put(self, digest: str, spooled: Path) -> None:
        try:
            await self._db.execute_each("insert_chunk", _chunks(digest, spooled))
        finally:
            await asyncio.to_thread(_remove, spooled)

    async def has(self, digest: str) -> bool:
        return await self._db.one("has_chunks", digest) is not None

    async def read(self, digest: str, start: int, end: int) -> AsyncIterator[bytes]:
        n = start // DB_CHUNK
        offset = start - n * DB_CHUNK
        left = end - start
        while left > 0:
            row = await self._db.one("chunk", digest, n)
            if row is None:
                break
            data: bytes = bytes(row[0])[offset : offset + left]
            left -= len(data)
            offset, n = 0, n + 1
            yield data

    async def delete(self, digest: str) -> None:
        await self._db.execute("delete_chunks", digest)


async def _chunks(digest: str, path: Path) -> AsyncIterator[tuple[Any, ...]]:
    f = await asyncio.to_thread(path.open, "rb")
    try:
        n = 0
        while chunk := await asyncio.to_thread(f.read, DB_CHUNK):
            yield (digest, n, chunk)
            n += 1
    finally:
        f.close()


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
