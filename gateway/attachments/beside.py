"""``gateway verify`` for attachments: the files kept beside a message hold exactly the bytes
its signed document references (digest, size, and the media type decided by the bytes).

Where they are looked for: the directory given, else ``<message stem>.attachments/`` (how the
receiving adapter base stores them), else the message's own directory. A file counts by its
SHA-256, never by its name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.attachments import media

CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Found:
    path: Path
    size: int
    media_type: str | None


def directory_for(message: Path, given: Path | None) -> Path:
    if given is not None:
        return given
    beside = message.with_suffix(".attachments")
    return beside if beside.is_dir() else message.parent


def _scan(directory: Path) -> dict[str, Found]:
    """Every regular file of ``directory`` by its SHA-256 (read in chunks)."""
    found: dict[str, Found] = {}
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        sha, size, head = hashlib.sha256(), 0, b""
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                head = head or chunk[: media.HEAD_BYTES]
                sha.update(chunk)
                size += len(chunk)
        found[sha.hexdigest()] = Found(path, size, media.sniff(head))
    return found


def check(data: Any, directory: Path) -> tuple[list[str], list[str]]:
    """(lines for references that hold, lines for those that do not) of the document ``data``."""
    refs = data.get("attachments") if isinstance(data, dict) else None
    if not isinstance(refs, list) or not refs:
        return [], []
    files = _scan(directory)
    good: list[str] = []
    bad: list[str] = []
    for i, ref in enumerate(refs):
        digest = str(ref.get("digest"))
        found = files.get(digest)
        where = f"/data/attachments/{i}"
        if found is None:
            bad.append(f"{where}: no file in {directory} has digest {digest}")
        elif found.size != ref.get("size") or found.media_type != ref.get("media_type"):
            bad.append(f"{where}: {found.path.name} differs in size or media type")
        else:
            good.append(f"{where}: {found.path.name} - digest, size and type match")
    return good, bad
