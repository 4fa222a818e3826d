"""Thin adapter for the citizen portal (浙里办): application forms, witness statements and the
payee account the applicant confirmed (bank-verified, or the social security card's) and,
from its legal-person service, the employer's statement out;
decisions, conclusions, payment records and case notices in (see README.md)."""

from adapters.common.cli import Family
from adapters.common.render import to_json
from adapters.common.thin import make_parser

parse_file = make_parser(
    ["application_form", "witness_statement", "payee_bank_account", "employer_statement"]
)
FAMILY = Family("zlb", parse_file, to_json)
to_native = to_json

__all__ = ["FAMILY", "parse_file", "to_native"]
