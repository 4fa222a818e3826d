"""Thin adapter for market regulation: business licences (see README.md)."""

from adapters.common.cli import Family
from adapters.common.render import to_json
from adapters.common.thin import make_parser

parse_file = make_parser(["business_licence"])
FAMILY = Family("market", parse_file, to_json)
to_native = to_json

__all__ = ["FAMILY", "parse_file", "to_native"]
