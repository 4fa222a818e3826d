"""Thin adapters: systems built for the exchange (hrss units, market regulation, the citizen
portal) export the canonical JSON already; the adapter checks, validates, signs and sends.

Native file: UTF-8 JSON, one document or a list of them, each
``{"type": "<name>", "document": {...canonical fields...}}`` where ``<name>`` is the short
type name (``recognition_decision``). Each document is all or nothing; errors name
``document N`` (from 1) and the JSON Pointer of the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from adapters.common.errors import AdapterError
from adapters.common.records import Parsed, doc_type, outgoing

#: the document's own number, the record key of its deterministic event id
KEY_FIELDS = {
    "recognition_decision": "decision_number",
    "assessment_conclusion": "conclusion_number",
    "insurance_enrollment": "record_number",
    "labour_contract": "contract_number",
    "benefit_payment_record": "payment_number",
    "business_licence": "credit_code",
    "application_form": "application_number",
    "witness_statement": "statement_number",
    "employer_statement": "statement_number",
    "payee_bank_account": "account_reference",
    "case_notice": "notice_id",
    "material_request": "request_id",
    "medical_diagnosis": "certificate_number",
}


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def make_parser(names: Iterable[str]) -> Callable[[Path], Parsed]:
    allowed = frozenset(names)

    def parse_file(path: Path) -> Parsed:
        file = str(path)
        try:
            loaded = json.loads(path.read_bytes(), object_pairs_hook=_refuse_duplicate_keys)
        except (ValueError, UnicodeDecodeError):
            raise AdapterError.one(file, "file", "(document)", "not valid JSON") from None
        items = loaded if isinstance(loaded, list) else [loaded]
        parsed = Parsed()
        for index, item in enumerate(items, start=1):
            place = f"document {index}"
            try:
                if not isinstance(item, dict) or not isinstance(item.get("document"), dict):
                    raise AdapterError.one(file, place, "document", "must be an object")
                name = item.get("type")
                if name not in allowed:
                    raise AdapterError.one(
                        file, place, "type", "not one of " + " ".join(sorted(allowed))
                    )
                data = item["document"]
                key = data.get(KEY_FIELDS[name])
                if not isinstance(key, str) or not key:
                    raise AdapterError.one(file, place, f"/{KEY_FIELDS[name]}", "is missing")
                parsed.records.append(outgoing(doc_type(name), data, key, file, place))
            except AdapterError as exc:
                parsed.errors.append(exc)
        return parsed

    return parse_file
