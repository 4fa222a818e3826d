"""Police adapter: resident ID information, road traffic accident determinations and police
certificates from the police systems' XML exports (see README.md)."""

from adapters.common.cli import Family
from adapters.common.render import to_xml
from adapters.police.native import parse_bytes, parse_file

FAMILY = Family("police", parse_file, to_xml)
to_native = to_xml

__all__ = ["FAMILY", "parse_bytes", "parse_file", "to_native"]
