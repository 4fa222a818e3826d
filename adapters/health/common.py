"""Pieces both health formats share: institutions from credit codes, HL7/CDA timestamps."""

from __future__ import annotations

import re
from datetime import datetime


def institution(name: str, credit_code: str) -> dict[str, str]:
    """A hospital; its region code is the registration region inside the credit code (GB 32100
    characters 3-8), so no extra field is needed."""
    doc = {"name": name, "credit_code": credit_code}
    if re.fullmatch(r"[0-9A-Z]{2}[0-9]{6}[0-9A-Z]{10}", credit_code):
        doc["region_code"] = credit_code[2:8]
    return doc


def birth_date_in(id_number: str) -> str | None:
    """The birth date inside an 18-character identity number (characters 7-14, every kind
    in gateway/validation/data/id_kinds.toml), or ``None`` when it is not a real date."""
    try:
        return datetime.strptime(id_number[6:14], "%Y%m%d").date().isoformat()
    except ValueError:
        return None


_TS = re.compile(r"([0-9]{8})([0-9]{2})?([0-9]{2})?([0-9]{2})?(?:\.[0-9]{1,4})?([+-][0-9]{4})?")


def ts_date(value: str) -> str:
    """HL7 DTM / CDA TS -> ``YYYY-MM-DD``."""
    m = _TS.fullmatch(value)
    if not m:
        raise ValueError(value)
    return datetime.strptime(m.group(1), "%Y%m%d").date().isoformat()


def ts_moment(value: str) -> str:
    """HL7 DTM / CDA TS with at least minutes -> RFC 3339; no offset means Beijing time."""
    m = _TS.fullmatch(value)
    if not m or m.group(3) is None:
        raise ValueError(value)
    day, hh, mm, ss, offset = m.groups()
    moment = datetime.strptime(f"{day}{hh}{mm}{ss or '00'}", "%Y%m%d%H%M%S")
    off = offset or "+0800"
    return moment.isoformat() + f"{off[:3]}:{off[3:]}"
