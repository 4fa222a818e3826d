"""Financial regulator adapter: payee bank accounts and commercial insurance claims from the
regulator's CSV or JSON batch exports (see README.md)."""

from adapters.common.cli import Family
from adapters.common.render import to_json
from adapters.insurance_regulator.native import parse_csv, parse_file, parse_json

FAMILY = Family("insurance_regulator", parse_file, to_json)
to_native = to_json

__all__ = ["FAMILY", "parse_csv", "parse_file", "parse_json", "to_native"]
