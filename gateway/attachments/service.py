"""Attachments: upload, reference checks at acceptance, reading, purge (DESIGN section 11).

Upload, in order (cheap and certain first): the bytes are spooled to a temporary file while
their SHA-256 and size are computed (``spool``; past the limit: ``attachment-too-large``);
the type is decided by the leading bytes (not in the allow-list:
``attachment-type-not-allowed``) and compared with the declared one
(``attachment-type-mismatch``); bytes already stored are answered at once (stored once,
the uploader recorded); otherwise the content checks of the type run
(``attachment-content-refused`` naming the rule), then the optional virus scan, and only
then are the bytes kept (``Blobs.put``, durable) and catalogued.

A message's references (``data.attachments``) are recorded first and then checked: each must
name stored bytes the sender uploaded, with the same media type and size; otherwise a 422
naming ``/data/attachments/<i>/...``. Recording first means a purge running at the same moment
sees the reference and keeps the bytes (``purgeable`` in the SQL files).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from gateway.attachments import clamd, content, media
from gateway.attachments.blobs import Blobs
from gateway.attachments.database import Database
from gateway.attachments.links import link_header, sign_link
from gateway.attachments.settings import AttachmentSettings
from gateway.attachments.spool import TooLarge, spool
from gateway.clock import Clock
from gateway.metrics import Metrics
from gateway.problem_types import (
    ATTACHMENT_CONTENT_REFUSED,
    ATTACHMENT_MISMATCH,
    ATTACHMENT_MISSING,
    ATTACHMENT_NOT_FOUND,
    ATTACHMENT_NOT_YOURS,
    ATTACHMENT_SCANNER_UNAVAILABLE,
    ATTACHMENT_TOO_LARGE,
    ATTACHMENT_TYPE_MISMATCH,
    ATTACHMENT_TYPE_NOT_ALLOWED,
    ProblemType,
)
from gateway.problems import DocumentError, GatewayError, NotFoundError, Violation
from gateway.trust import SigningKey

log = structlog.get_logger("gateway.attachments")


class AttachmentError(GatewayError):
    """An upload refused; ``rule`` names the check (also the metrics label)."""

    def __init__(self, detail: str, problem: ProblemType, rule: str) -> None:
        super().__init__(detail, problem, extra={"rule": rule})
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Attachment:
    digest: str  # SHA-256, lowercase hex
    media_type: str
    size: int  # bytes

    def as_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "media_type": self.media_type, "size": self.size}


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class Attachments:
    def __init__(
        self,
        db: Database,
        blobs: Blobs,
        settings: AttachmentSettings,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._db = db
        self.blobs = blobs
        self.settings = settings
        self._clock = clock
        self.metrics = metrics

    # --- upload -----------------------------------------------------------------------------

    async def upload(
        self, chunks: AsyncIterable[bytes], declared: str | None, department: str
    ) -> tuple[Attachment, bool]:
        """(the attachment, whether these bytes were new). ``AttachmentError`` on refusal."""
        try:
            result = await self._upload(chunks, declared, department)
        except AttachmentError as exc:
            self.metrics.attachment_refusals.labels(exc.rule).inc()
            raise
        self.metrics.attachment_uploads.inc()
        if result[1]:
            self.metrics.attachment_bytes.inc(result[0].size)
        return result

    async def _upload(
        self, chunks: AsyncIterable[bytes], declared: str | None, department: str
    ) -> tuple[Attachment, bool]:
        limit = self.settings.max_bytes
        try:
            spooled = await spool(chunks, self.blobs.spool_dir, limit)
        except TooLarge:
            raise self.too_large() from None
        try:
            kind = self._media_type(spooled.head, declared)
            attachment = Attachment(spooled.sha256, kind, spooled.size)
            now = _ms(self._clock.now())
            if await self.find(attachment.digest) is None:
                await self._check_content(spooled.path, kind)
                await self.blobs.put(attachment.digest, spooled.path)
                created = True
            else:
                created = False
            await self._db.execute("upsert_attachment", attachment.digest, kind, spooled.size, now)
            await self._db.execute("upsert_upload", attachment.digest, department, now)
        finally:
            spooled.discard()
        log.info("attachment.uploaded", digest=attachment.digest, created=created)
        return attachment, created

    def too_large(self) -> AttachmentError:
        return AttachmentError(
            f"an attachment is at most {self.settings.max_bytes} bytes",
            ATTACHMENT_TOO_LARGE,
            "size",
        )

    @staticmethod
    def _media_type(head: bytes, declared: str | None) -> str:
        kind = media.sniff(head)
        if kind is None:
            raise AttachmentError(
                "the bytes are none of " + ", ".join(media.allowed_names()),
                ATTACHMENT_TYPE_NOT_ALLOWED,
                "type",
            )
        said = media.normalise(declared)
        if said is not None and said != kind:
            raise AttachmentError(
                f"the bytes are {kind}, not the declared Content-Type",
                ATTACHMENT_TYPE_MISMATCH,
                "declared-type",
            )
        return kind

    async def _check_content(self, path: Any, kind: str) -> None:
        try:
            await asyncio.to_thread(content.check, path, kind)
        except content.ContentRefused as exc:
            raise AttachmentError(exc.detail, ATTACHMENT_CONTENT_REFUSED, exc.rule) from None
        if self.settings.clamd is None:
            return
        try:
            found = await clamd.scan(self.settings.clamd, path)
        except clamd.ScannerUnavailable:
            raise AttachmentError(
                "the virus scanner did not answer; try again later",
                ATTACHMENT_SCANNER_UNAVAILABLE,
                "scanner-unavailable",
            ) from None
        if found is not None:
            raise AttachmentError(
                "the virus scanner found malware", ATTACHMENT_CONTENT_REFUSED, "malware"
            )

    # --- reading ----------------------------------------------------------------------------

    async def find(self, digest: str) -> Attachment | None:
        row = await self._db.one("find", digest)
        return None if row is None else Attachment(digest, str(row[0]), int(row[1]))

    async def readable(self, digest: str, department: str) -> Attachment:
        """The attachment if ``department`` uploaded it or receives a message referencing
        it; otherwise ``attachment-not-found`` (existence is not disclosed)."""
        found = await self.find(digest)
        if found is None or await self._db.one("may_read", digest, department) is None:
            raise NotFoundError(
                "no attachment with this digest in a message delivered to you",
                ATTACHMENT_NOT_FOUND,
            )
        return found

    def read(self, attachment: Attachment, start: int, end: int) -> AsyncIterator[bytes]:
        return self.blobs.read(attachment.digest, start, end)

    async def links(self, source: str, event_id: str, recipient: str, key: SigningKey) -> str:
        """The ``Link`` header of a push: a signed, short-lived link per attachment the
        message references (``gateway.attachments.links``); empty when it references none."""
        rows = await self._db.all("digests_of", source, event_id)
        expires = self._clock.now() + timedelta(seconds=self.settings.url_seconds)
        return link_header([sign_link(key, str(r[0]), recipient, expires) for r in rows])

    # --- references -------------------------------------------------------------------------

    async def check_references(
        self, sender: str, source: str, event_id: str, data: Any, now: datetime
    ) -> list[str]:
        """Record and check the references of a message; their digests. ``DocumentError``
        with one violation per failing reference (pointers into the event)."""
        refs = _references(data)
        at = _ms(now)
        for ref in refs:
            await self._db.execute("insert_ref", ref["digest"], source, event_id, at)
        violations: list[tuple[ProblemType, Violation]] = []
        for i, ref in enumerate(refs):
            await self._check_one(sender, ref, f"/data/attachments/{i}", violations)
        if violations:
            first = violations[0][0]
            raise DocumentError(
                f"{len(violations)} attachment reference(s) do not hold",
                first,
                violations=[v for _, v in violations],
            )
        return [ref["digest"] for ref in refs]

    async def _check_one(
        self,
        sender: str,
        ref: dict[str, Any],
        pointer: str,
        violations: list[tuple[ProblemType, Violation]],
    ) -> None:
        stored = await self.find(ref["digest"])
        if stored is None:
            violations.append(
                (ATTACHMENT_MISSING, Violation(f"{pointer}/digest", "no attachment uploaded"))
            )
            return
        if await self._db.one("uploaded_by", stored.digest, sender) is None:
            violations.append(
                (
                    ATTACHMENT_NOT_YOURS,
                    Violation(f"{pointer}/digest", "uploaded by another department"),
                )
            )
            return
        for field, value in (("media_type", stored.media_type), ("size", stored.size)):
            if ref.get(field) != value:
                violations.append(
                    (
                        ATTACHMENT_MISMATCH,
                        Violation(f"{pointer}/{field}", "differs from the stored attachment"),
                    )
                )

    # --- purge ------------------------------------------------------------------------------

    async def purge(self) -> int:
        """Delete what nothing keeps: uploads older than the orphan period that no kept
        message references (retention purged their messages, or none ever did)."""
        cutoff = _ms(self._clock.now()) - self.settings.orphan_seconds * 1000
        purged = 0
        for row in await self._db.all("purgeable", cutoff):
            digest = str(row[0])
            if await self._db.execute("delete_if_purgeable", cutoff, digest):
                await self._db.execute("delete_uploads", digest)
                await self._db.execute("delete_refs", digest)
                await self.blobs.delete(digest)
                purged += 1
        if purged:
            log.info("attachments.purged", attachments=purged)
        return purged

    async def close(self) -> None:
        await self._db.close()


def _references(data: Any) -> list[dict[str, Any]]:
    """The document's ``attachments`` (the schema has checked their shape)."""
    refs = data.get("attachments") if isinstance(data, dict) else None
    if not isinstance(refs, list):
        return []
    return [r for r in refs if isinstance(r, dict) and isinstance(r.get("digest"), str)]
