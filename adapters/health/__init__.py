"""Health adapter: hospital documents from HL7 v2 messages (ADT^A01, ADT^A03, ORU^R01) and
CDA R2 documents in the national shape (WS/T 500), and recognition decisions back to the
hospital as a flat summary (README.md)."""

from adapters.common.cli import Family
from adapters.health.native import parse_bytes, parse_file
from adapters.health.receiving import summary, to_native

FAMILY = Family("health", parse_file, to_native, parse_configured=parse_file)

__all__ = ["FAMILY", "parse_bytes", "parse_file", "summary", "to_native"]
