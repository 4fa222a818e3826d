"""Which media type a file is, decided by its leading bytes (``media_types.toml``).

The allow-list and the signatures are data naming their standards; this module only reads
them. A declared ``Content-Type`` never decides: it is compared with what the bytes say
(DESIGN section 11).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

#: bytes enough to decide every signature in the table
HEAD_BYTES = 16


@dataclass(frozen=True, slots=True)
class MediaType:
    media_type: str
    extension: str
    magic: tuple[bytes, ...]
    source: str


@functools.cache
def allowed() -> tuple[MediaType, ...]:
    """The allow-list, in the order of ``media_types.toml``."""
    text = (resources.files("gateway.attachments") / "media_types.toml").read_text("utf-8")
    return tuple(
        MediaType(
            media_type=entry["media_type"],
            extension=entry["extension"],
            magic=tuple(bytes.fromhex(m) for m in entry["magic"]),
            source=entry["source"],
        )
        for entry in tomllib.loads(text)["type"]
    )


def allowed_names() -> tuple[str, ...]:
    return tuple(t.media_type for t in allowed())


def sniff(head: bytes) -> str | None:
    """The allowed media type whose signature ``head`` starts with, or None."""
    for entry in allowed():
        if any(head.startswith(m) for m in entry.magic):
            return entry.media_type
    return None


def normalise(declared: str | None) -> str | None:
    """A declared Content-Type without parameters, lower case; None when not declared or
    when it is the generic ``application/octet-stream`` (which declares nothing)."""
    if not declared:
        return None
    value = declared.split(";", 1)[0].strip().lower()
    return None if value in ("", "application/octet-stream") else value
