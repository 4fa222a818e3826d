"""The financial regulator's batch exports (CSV or JSON) -> canonical documents.

A batch holds many records of one kind: payee bank accounts or commercial insurance claims.
Every bad row is reported with its row number and field and the good rows are still sent;
each row's event id derives from its record key, so a batch sent again sends nothing twice.
The format is documented in this package's README.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from adapters.common.errors import AdapterError, Problem
from adapters.common.people import with_id_kinds
from adapters.common.records import Outgoing, Parsed, doc_type, registry
from adapters.common.xml import native_date, native_moment

ACCOUNT = doc_type("payee_bank_account")
CLAIM = doc_type("commercial_insurance_claim")
KINDS = {"payee_bank_account": ACCOUNT, "commercial_insurance_claim": CLAIM}
MAX_BYTES = 20 * 1024 * 1024


def record_key(type_: str, data: dict[str, Any]) -> str:
    """The batch record key: the account reference, or the claim number with its status (a
    claim that moves from reported to settled is a new record)."""
    if type_ == ACCOUNT:
        return str(data.get("account_reference"))
    return f"{data.get('claim_number')}/{data.get('status')}"


def _money(value: str) -> str:
    amount = Decimal(value.replace(",", ""))
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(value)
    return str(amount.quantize(Decimal("0.01")))


def _convert(name: str, value: str) -> str:
    if name.endswith("_date"):
        return native_date(value)
    if name.endswith("_at"):
        return native_moment(value)
    if name.endswith("_amount"):
        return _money(value)
    return value


WHAT = {"_date": "a date", "_at": "a time", "_amount": "an amount in yuan (at most 2 decimals)"}


def _what(name: str) -> str:
    return next((w for suffix, w in WHAT.items() if name.endswith(suffix)), "valid")


def _nest(flat: dict[str, str], file: str, place: str) -> dict[str, Any]:
    """``holder.id_number`` columns -> nested objects; empty cells are absent."""
    doc: dict[str, Any] = {}
    problems = []
    for column, raw in flat.items():
        value = raw.strip()
        if not value:
            continue
        parts = column.split(".")
        try:
            converted = _convert(parts[-1], value)
        except (ValueError, InvalidOperation):
            problems.append(Problem(file, place, column, f"not {_what(parts[-1])}"))
            continue
        node = doc
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = converted
    if problems:
        raise AdapterError(problems)
    return doc


def _flatten(obj: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in obj.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _row(type_: str, flat: dict[str, str], file: str, place: str) -> Outgoing:
    data = _nest(flat, file, place)
    with_id_kinds(data)
    violations = registry().validate(type_, data)
    if violations:
        raise AdapterError(
            [
                Problem(file, place, v.pointer.lstrip("/").replace("/", ".") or "(row)", v.message)
                for v in violations
            ]
        )
    return Outgoing(type_, data, record_key(type_, data), file, place)


def _collect(parsed: Parsed, type_: str, flat: dict[str, str], file: str, place: str) -> None:
    try:
        parsed.records.append(_row(type_, flat, file, place))
    except AdapterError as exc:
        parsed.errors.append(exc)


def parse_csv(text: str, file: str) -> Parsed:
    """Header row of canonical field paths; the kind follows from the key column."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if "claim_number" in header:
        type_ = CLAIM
    elif "account_reference" in header:
        type_ = ACCOUNT
    else:
        raise AdapterError.one(
            file, "row 1", "(header)", "needs an account_reference or a claim_number column"
        )
    known = set(registry().schema(type_)["properties"])
    for number, column in enumerate(header, start=1):
        if column.split(".")[0] not in known:
            name = column or f"(column {number}, no name)"
            raise AdapterError.one(file, "row 1", name, "unknown column")
    parsed = Parsed()
    for row in reader:
        place = f"row {reader.line_num}"
        if None in row or any(v is None for v in row.values()):
            parsed.errors.append(
                AdapterError.one(file, place, "(row)", "wrong number of cells for the header")
            )
            continue
        _collect(parsed, type_, row, file, place)
    return parsed


def parse_json(raw: bytes, file: str) -> Parsed:
    """``{"batch_id": ..., "kind": ..., "records": [...]}``, records in the canonical shape
    (native date and time formats allowed)."""
    try:
        batch = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise AdapterError.one(file, "file", "(document)", "not valid JSON") from None
    if not isinstance(batch, dict) or batch.get("kind") not in KINDS:
        raise AdapterError.one(file, "file", "kind", "not one of " + " ".join(sorted(KINDS)))
    records = batch.get("records")
    if not isinstance(records, list):
        raise AdapterError.one(file, "file", "records", "must be a list")
    type_ = KINDS[batch["kind"]]
    parsed = Parsed()
    for index, record in enumerate(records, start=1):
        place = f"record {index}"
        if not isinstance(record, dict):
            parsed.errors.append(AdapterError.one(file, place, "(record)", "must be an object"))
            continue
        flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in _flatten(record)}
        _collect(parsed, type_, flat, file, place)
    return parsed


def _refuse_repeated_keys(parsed: Parsed) -> Parsed:
    """Two rows with one record key would share an event id: the later one is refused."""
    seen: dict[str, str] = {}
    kept = []
    for record in parsed.records:
        if record.key in seen:
            parsed.errors.append(
                AdapterError.one(
                    record.file,
                    record.place,
                    "(record key)",
                    f"repeats the key of {seen[record.key]}",
                )
            )
            continue
        seen[record.key] = record.place
        kept.append(record)
    parsed.records = kept
    return parsed


def parse_file(path: Path) -> Parsed:
    return _refuse_repeated_keys(_parse_file(path))


def _parse_file(path: Path) -> Parsed:
    raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise AdapterError.one(str(path), "file", "(document)", f"larger than {MAX_BYTES} bytes")
    if path.suffix.lower() == ".json":
        return parse_json(raw, str(path))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AdapterError.one(str(path), "file", "(document)", "not UTF-8") from None
    return parse_csv(text, str(path))
