"""Attachments from a department's side: upload a file, download one and verify its digest.

An upload streams the file from disk (never read whole) and answers the reference a document
lists under ``attachments`` (DESIGN section 11). A download streams to a temporary file beside
the destination while computing SHA-256, and keeps it only when the digest and size match
the reference; otherwise ``AttachmentMismatch`` and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from adapters.link.client import GatewayClient, SubmitError, _problem
from adapters.link.receiver import Delivered

CHUNK = 256 * 1024


class AttachmentMismatch(Exception):
    """Downloaded bytes whose digest or size is not the reference's."""


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


async def upload(client: GatewayClient, path: Path, title: str | None = None) -> dict[str, Any]:
    """POST the file; the reference ``{digest, media_type, size, title}``. ``SubmitError``
    with the gateway's problem when refused (the type is decided by the bytes)."""
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    async with client.session.post(
        f"{client.base_url}/v1/attachments",
        data=_file_chunks(path),
        headers={
            "Authorization": f"Bearer {client.token()}",
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
        },
    ) as response:
        answer = await response.read()
        if response.status not in (200, 201):
            raise SubmitError(response.status, _problem(answer))
    reference: dict[str, Any] = orjson.loads(answer)
    reference["title"] = title or path.name
    return reference


async def download(
    client: GatewayClient, reference: dict[str, Any], dest: Path, link: str | None = None
) -> Path:
    """Fetch the attachment ``reference`` names into ``dest``, verified; returns ``dest``.
    With ``link`` (a push's signed link, ``Delivered.links``) no token is needed."""
    digest = str(reference["digest"])
    if link is not None:
        return await _fetch(client, f"{client.base_url}{link}", {}, reference, dest)
    auth = {"Authorization": f"Bearer {client.token()}"}
    return await _fetch(client, f"{client.base_url}/v1/attachments/{digest}", auth, reference, dest)


def link_for(links: tuple[str, ...], digest: str) -> str | None:
    """The signed link among ``links`` for ``digest``, if the push carried one."""
    prefix = f"/v1/attachments/{digest}?"
    return next((link for link in links if link.startswith(prefix)), None)


async def _fetch(
    client: GatewayClient, url: str, headers: dict[str, str], reference: dict[str, Any], dest: Path
) -> Path:
    digest = str(reference["digest"])
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    sha, size = hashlib.sha256(), 0
    try:
        async with client.session.get(url, headers=headers) as response:
            if response.status != 200:
                raise SubmitError(response.status, _problem(await response.read()))
            with part.open("wb") as out:
                async for chunk in response.content.iter_chunked(CHUNK):
                    sha.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        if sha.hexdigest() != digest or size != reference.get("size", size):
            raise AttachmentMismatch(f"attachment {digest}: the bytes received do not match")
        part.replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return dest


_EXTENSIONS = {
    "application/pdf": "pdf",
    "application/ofd": "ofd",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/tiff": "tif",
}


async def receive_attachments(
    client: GatewayClient, delivered: Delivered, directory: Path
) -> list[Path]:
    """Download every attachment a delivered document references into ``directory``
    (``<digest>.<ext>``), each verified, through the push's signed link when it carried one.
    Raises ``AttachmentMismatch`` or ``SubmitError``: the delivery is then not acknowledged
    and the gateway pushes again."""
    data = delivered.verified.event.data
    refs = data.get("attachments") if isinstance(data, dict) else None
    got: list[Path] = []
    for ref in refs if isinstance(refs, list) else []:
        digest = str(ref["digest"])
        dest = directory / f"{digest}.{_EXTENSIONS.get(ref.get('media_type'), 'bin')}"
        got.append(await download(client, ref, dest, link_for(delivered.links, digest)))
    return got
