"""Checks on an attachment's content, once its type is known from its bytes (DESIGN 11).

Each refusal names its rule (``ContentRefused.rule``), which the 422 answer carries and the
metrics count by. The rules:

- PDF (ISO 32000-2): readable and unencrypted (``pdf-unreadable``); no JavaScript, neither as
  an action (``/S /JavaScript``, ``/JS``) nor in the document's JavaScript name tree
  (section 12.6.4.17, ``pdf-javascript``); no launch actions (12.6.4.6, ``pdf-launch-action``);
  no embedded files (7.11.4, ``pdf-embedded-file``). Read with pikepdf (qpdf), which loads a
  stream's data only when asked, so a large scan is walked without being held in memory.
- OFD (GB/T 33190-2016 section 7): a ZIP package whose ``OFD.xml`` is well-formed XML with the
  root ``ofd:OFD`` and a ``DocBody/DocRoot`` naming a document file present in the package
  (``ofd-malformed``).
- Images: decodable by Pillow, of the format the bytes announced (``image-undecodable``).

Every check runs on the stored temporary file in a worker thread (the libraries are
synchronous); none of them trusts a declared length or name.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pikepdf
from lxml import etree
from PIL import Image

OFD_NAMESPACE = "http://www.ofdspec.org/2016"
#: OFD.xml is an index of a few elements; anything larger is not one
MAX_OFD_XML_BYTES = 1 << 20
_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF"}


class ContentRefused(Exception):
    """The content breaks ``rule``; ``detail`` says what, never quoting the content."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail


def check(path: Path, media_type: str) -> None:
    """Raise ``ContentRefused`` when the file at ``path`` breaks a rule of its type."""
    _CHECKS[media_type](path, media_type)


def _check_pdf(path: Path, _media_type: str) -> None:
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        raise ContentRefused(
            "pdf-unreadable", "the PDF is encrypted; send it unencrypted"
        ) from None
    except pikepdf.PdfError:
        raise ContentRefused("pdf-unreadable", "the PDF cannot be parsed") from None
    with pdf:
        names = pdf.Root.get("/Names")
        if isinstance(names, pikepdf.Dictionary):
            if "/JavaScript" in names:
                raise ContentRefused("pdf-javascript", "the document has a JavaScript name tree")
            if "/EmbeddedFiles" in names:
                raise ContentRefused("pdf-embedded-file", "the document has embedded files")
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                _check_pdf_object(obj)


def _check_pdf_object(obj: Any) -> None:
    """One indirect object's dictionary (a stream's data is never read)."""
    kind = obj.get("/S")
    if "/JS" in obj or kind == pikepdf.Name.JavaScript:
        raise ContentRefused("pdf-javascript", "an action runs JavaScript")
    if kind == pikepdf.Name.Launch:
        raise ContentRefused("pdf-launch-action", "an action launches an application")
    if obj.get("/Type") == pikepdf.Name.EmbeddedFile or "/EF" in obj:
        raise ContentRefused("pdf-embedded-file", "the document embeds a file")


def _check_ofd(path: Path, _media_type: str) -> None:
    try:
        with zipfile.ZipFile(path) as package:
            root = _ofd_xml(package, "OFD.xml")
            if etree.QName(root).localname != "OFD" or etree.QName(root).namespace != (
                OFD_NAMESPACE
            ):
                raise ContentRefused("ofd-malformed", "OFD.xml's root is not ofd:OFD")
            doc_root = root.findtext(f"{{{OFD_NAMESPACE}}}DocBody/{{{OFD_NAMESPACE}}}DocRoot")
            if not doc_root or not doc_root.strip():
                raise ContentRefused("ofd-malformed", "OFD.xml names no DocBody/DocRoot")
            target = str(PurePosixPath(doc_root.strip().lstrip("/")))
            _ofd_xml(package, target)
    except (zipfile.BadZipFile, OSError):
        raise ContentRefused("ofd-malformed", "not a readable ZIP package") from None


def _ofd_xml(package: zipfile.ZipFile, name: str) -> Any:
    try:
        info = package.getinfo(name)
    except KeyError:
        raise ContentRefused("ofd-malformed", f"the package has no {name}") from None
    if info.file_size > MAX_OFD_XML_BYTES:
        raise ContentRefused("ofd-malformed", f"{name} is larger than {MAX_OFD_XML_BYTES} bytes")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(package.read(name), parser)
    except etree.XMLSyntaxError:
        raise ContentRefused("ofd-malformed", f"{name} is not well-formed XML") from None


def _check_image(path: Path, media_type: str) -> None:
    expected = _PILLOW_FORMATS[media_type]
    try:
        with Image.open(path) as image:
            if image.format != expected:
                raise ContentRefused("image-undecodable", f"not a {expected} image")
            image.verify()
        with Image.open(path) as image:
            if expected == "JPEG":
                # decode at 1/8 scale: every entropy-coded block is still read
                image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except ContentRefused:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ContentRefused(
            "image-undecodable", f"the {expected} image cannot be decoded"
        ) from None


_CHECKS: dict[str, Callable[[Path, str], None]] = {
    "application/pdf": _check_pdf,
    "application/ofd": _check_ofd,
    "image/jpeg": _check_image,
    "image/png": _check_image,
    "image/tiff": _check_image,
}
