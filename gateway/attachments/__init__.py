"""Attachments: files (scans, electronic licences) that travel with documents (DESIGN 11).

``service.Attachments`` is the whole behaviour; ``blobs`` keeps the bytes (filesystem or
database), ``database`` the catalogue and references, ``media`` decides a type by its bytes,
``content`` and ``clamd`` check content, ``spool`` streams an upload to disk.
"""

from gateway.attachments.service import Attachment, AttachmentError, Attachments
from gateway.attachments.settings import AttachmentSettings

__all__ = ["Attachment", "AttachmentError", "AttachmentSettings", "Attachments"]
