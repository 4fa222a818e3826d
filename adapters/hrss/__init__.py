"""Thin adapter for the human resources and social security units: the recognition centre
(recognition decisions), the assessment committee (assessment conclusions) and the social
insurance agency (enrolment records, labour contract filings, benefit payment records), plus
the process messages they send (material requests, case notices). See README.md."""

from adapters.common.cli import Family
from adapters.common.render import to_json
from adapters.common.thin import make_parser

parse_file = make_parser(
    [
        "recognition_decision",
        "assessment_conclusion",
        "insurance_enrollment",
        "labour_contract",
        "benefit_payment_record",
        "material_request",
        "case_notice",
    ]
)
FAMILY = Family("hrss", parse_file, to_json)
to_native = to_json

__all__ = ["FAMILY", "parse_file", "to_native"]
