"""A health export file -> canonical document: HL7 v2 (starts with ``MSH``) or CDA R2 XML.

HL7 v2 files are UTF-8 unless MSH-18 declares ``GB 18030-2000`` (HL7 table 0211); the
declaration is read from the MSH segment's ASCII text, never guessed from the bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

from adapters.common.errors import AdapterError
from adapters.common.records import Outgoing, Parsed
from adapters.common.settings import Institution
from adapters.common.thin import make_parser
from adapters.health.cda import parse_cda
from adapters.health.hl7v2 import parse_hl7

MAX_BYTES = 5 * 1024 * 1024
_GB18030_DECLARED = re.compile(rb"\|(GB 18030-2000|GB18030)(\||\Z)")
_LEAD = b"\xef\xbb\xbf \t\r\n"


def _hl7_text(raw: bytes, file: str) -> str:
    first = re.split(rb"[\r\n]", raw, maxsplit=1)[0]
    codec, name = ("gb18030", "GB 18030") if _GB18030_DECLARED.search(first) else ("utf-8", "UTF-8")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = len(re.findall(rb"\r\n|\r|\n", raw[: exc.start])) + 1
        reason = f"bytes do not decode as the declared character set {name} (MSH-18)"
        raise AdapterError.one(file, f"line {line}", "(document)", reason) from None


def parse_bytes(raw: bytes, file: str, institution: Institution | None = None) -> Outgoing:
    if len(raw) > MAX_BYTES:
        raise AdapterError.one(file, "file", "(document)", f"larger than {MAX_BYTES} bytes")
    head = raw.lstrip(_LEAD)
    if head.startswith(b"MSH"):
        return parse_hl7(_hl7_text(head, file), file, institution)
    if head.startswith(b"<"):
        return parse_cda(raw, file)
    raise AdapterError.one(
        file,
        "line 1",
        "(document)",
        "neither an HL7 v2 message (MSH), a CDA document nor a certificate JSON export",
    )


# Diagnosis certificates (医疗诊断证明书) have no HL7 v2 or WS/T 500 document of their own:
# hospital EMRs print them from a certificate module, whose export is the canonical JSON.
parse_certificates = make_parser(["medical_diagnosis"])


def parse_file(path: Path, institution: Institution | None = None) -> Parsed:
    raw = path.read_bytes()
    if raw.lstrip(_LEAD).startswith((b"{", b"[")):
        return parse_certificates(path)
    return Parsed(records=[parse_bytes(raw, str(path), institution)])
