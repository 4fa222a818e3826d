"""Medical insurance adapter: medical expense settlements from the national medical insurance
platform's transaction-style JSON, and received documents back in that style (README.md)."""

from adapters.common.cli import Family
from adapters.medical_insurance.native import parse_bytes, parse_file
from adapters.medical_insurance.receiving import to_native, transaction

FAMILY = Family("medical_insurance", parse_file, to_native)

__all__ = ["FAMILY", "parse_bytes", "parse_file", "to_native", "transaction"]
