"""A health export file -> canonical document: HL7 v2 (starts with ``MSH|``) or CDA R2 XML."""

from __future__ import annotations

from pathlib import Path

from adapters.common.errors import AdapterError
from adapters.common.records import Outgoing, Parsed
from adapters.common.thin import make_parser
from adapters.health.cda import parse_cda
from adapters.health.hl7v2 import parse_hl7

MAX_BYTES = 5 * 1024 * 1024


def parse_bytes(raw: bytes, file: str) -> Outgoing:
    if len(raw) > MAX_BYTES:
        raise AdapterError.one(file, "file", "(document)", f"larger than {MAX_BYTES} bytes")
    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"MSH|"):
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            raise AdapterError.one(file, "file", "(document)", "not UTF-8") from None
        return parse_hl7(text, file)
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


def parse_file(path: Path) -> Parsed:
    raw = path.read_bytes()
    if raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        return parse_certificates(path)
    return Parsed(records=[parse_bytes(raw, str(path))])
