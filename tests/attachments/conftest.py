"""Files for the attachment tests, made here: PDFs (clean and hostile) with pikepdf, images
with Pillow, OFD packages with zipfile."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pikepdf
from PIL import Image

OFD_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0" DocType="OFD">'
    "<ofd:DocBody><ofd:DocInfo><ofd:DocID>x</ofd:DocID></ofd:DocInfo>"
    "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
)
DOCUMENT_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CommonData/></ofd:Document>'
)


def pdf_bytes(*, extra: bytes = b"", hostile: str | None = None) -> bytes:
    """A one-page PDF; ``extra`` bytes in a stream (to make it large); ``hostile`` one of
    "javascript", "launch", "embedded"."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    if extra:
        pdf.Root.Filler = pdf.make_stream(extra)
    if hostile == "javascript":
        pdf.Root.OpenAction = pdf.make_indirect(
            pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        )
    elif hostile == "launch":
        pdf.Root.OpenAction = pdf.make_indirect(
            pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
        )
    elif hostile == "embedded":
        pdf.attachments["note.txt"] = pikepdf.AttachedFileSpec(pdf, b"hello", filename="note.txt")
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def ofd_bytes(ofd_xml: str = OFD_XML) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("OFD.xml", ofd_xml)
        package.writestr("Doc_0/Document.xml", DOCUMENT_XML)
    return out.getvalue()


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path
