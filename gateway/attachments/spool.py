"""An upload on its way in: written to a temporary file as it arrives, its SHA-256 and size
computed on the way, so the gateway never holds a whole file in memory (DESIGN 11).

The temporary file lives in the store's own directory (same file system as its final place,
so the filesystem store's rename is atomic) and is fsynced before anyone relies on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path

from gateway.attachments.media import HEAD_BYTES


class TooLarge(Exception):
    """The upload went past the limit; what arrived so far was discarded."""


@dataclass(slots=True)
class Spooled:
    path: Path
    sha256: str
    size: int
    head: bytes

    def discard(self) -> None:
        _remove(self.path)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def spool(chunks: AsyncIterable[bytes], directory: Path, limit: int) -> Spooled:
    """Write ``chunks`` to a new file in ``directory``; ``TooLarge`` past ``limit`` bytes."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
    path = Path(name)
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"more than {limit} bytes")
                if len(head) < HEAD_BYTES:
                    head = (head + chunk)[:HEAD_BYTES]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            await asyncio.to_thread(os.fsync, out.fileno())
    except BaseException:
        await asyncio.to_thread(_remove, path)
        raise
    return Spooled(path, digest.hexdigest(), size, head)
