"""Format checkers for the identifiers and values Chinese government documents carry.

Each format has two functions: ``<name>_fault(s)`` says in words what is wrong (``None`` when
the value is fine) and ``is_<name>(s)`` is the boolean the schema compilers call. The words
name the rule that failed, never the value, because values are personal data (an ID number,
a phone number) and messages end up in problem responses and logs.

All patterns use explicit ``[0-9]`` rather than ``\\d``: Python's ``\\d`` also matches other
scripts' digits (for example Arabic-Indic ``٣``), which no registry in China issues.

The checkers accept only ``str``; the registry wraps them so that non-strings pass, since
JSON Schema applies ``format`` to strings only (the ``type`` keyword reports the rest).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from operator import mul

from gateway.validation import codes, identity
from gateway.validation.regions import regions

# --- identity numbers, by kind (identity.py, data/id_kinds.toml) ------------------------------

RESIDENT_ID_WEIGHTS = identity.WEIGHTS
RESIDENT_ID_CHECK_CHARS = identity.CHECK_CHARS
RESIDENT_ID_ALPHABET = identity.ALPHABET
CHINA_STANDARD_TIME = identity.CHINA_STANDARD_TIME
resident_id_check_char = identity.check_char


def resident_id_fault(s: str, *, today: date | None = None) -> str | None:
    """What is wrong with a resident ID number (GB 11643), or ``None``.

    The region part must be a GB/T 2260 code listed at the birth date (a code abolished later
    stays in the numbers issued before): ``data/gb2260.tsv``.
    """
    return identity.id_number_fault(s, "resident", today=today)


def is_resident_id(s: str) -> bool:
    """True for a GB 11643 resident ID number: shape, region, birth date and check character."""
    return resident_id_fault(s) is None


def id_number_fault(s: str) -> str | None:
    """What is wrong with an identity number of any kind (the kind its first characters say)."""
    return identity.id_number_fault(s)


def is_id_number(s: str) -> bool:
    """True for a valid number of any kind in ``data/id_kinds.toml``."""
    return id_number_fault(s) is None


def _kind_checker(kind: str) -> tuple[Callable[[str], bool], Callable[[str], str | None]]:
    def fault(s: str) -> str | None:
        return identity.id_number_fault(s, kind)

    def check(s: str) -> bool:
        return fault(s) is None

    return check, fault


# --- unified social credit code, GB 32100-2015 (MOD 31) ---------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_CHAR = "[0-9A-HJ-NPQRTUWXY]"
_USCC_SHAPE = re.compile(f"{_USCC_CHAR}{{18}}")
_USCC_LAYOUT = re.compile(f"{_USCC_CHAR}{{2}}[0-9]{{6}}{_USCC_CHAR}{{10}}")


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters (MOD 31)."""
    total = sum(map(mul, map(_USCC_VALUE.__getitem__, first17), USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_fault(s: str) -> str | None:
    """What is wrong with a unified social credit code, or ``None``.

    Layout: registration authority (1), entity kind (1), region code (6 digits, GB/T 2260),
    organisation code (9, GB 11714), check character (1). The organisation code's own GB 11714
    check digit is deliberately not verified: codes assigned to individual businesses do not
    always satisfy it, and the MOD 31 check already catches any single-character error.
    """
    if not _USCC_SHAPE.fullmatch(s):
        return (
            "not a valid unified social credit code "
            "(must be 18 characters of 0-9 and A-Y without I, O, S, V, Z)"
        )
    if not _USCC_LAYOUT.fullmatch(s) or not regions().known(s[2:8]):
        return (
            "not a valid unified social credit code "
            "(characters 3-8 must be a GB/T 2260 region code, current or historic)"
        )
    if uscc_check_char(s[:17]) != s[17]:
        return "not a valid unified social credit code (GB 32100 check character)"
    return None


def is_uscc(s: str) -> bool:
    """True for a GB 32100 unified social credit code with a correct check character."""
    return uscc_fault(s) is None


# --- region code, GB/T 2260 (regions.py, data/gb2260.tsv) -------------------------------------

_GB2260_SHAPE = re.compile(r"[0-9]{6}")


def gb2260_fault(s: str) -> str | None:
    """What is wrong with a six-digit region code naming a place today, or ``None``.

    The code must be *current* in the shipped table (``330000`` province, ``330700`` city,
    ``330784`` county). A historic code (``330722``, Yongkang county until 1992) is refused
    here: a place named today has today's code. Inside ID numbers and credit codes historic
    codes stay valid (they were assigned once).
    """
    if not _GB2260_SHAPE.fullmatch(s):
        return "not a valid region code (must be 6 digits, GB/T 2260)"
    table = regions()
    if table.is_current(s):
        return None
    if s in table.historic:
        return "not a current region code (GB/T 2260: abolished, no longer listed)"
    return "not a valid region code (not in the GB/T 2260 table)"


def is_gb2260(s: str) -> bool:
    """True for a current GB/T 2260 region code."""
    return gb2260_fault(s) is None


# --- diagnosis and operation codes (codes.py, data/code_sets.toml) ------------------------------


def icd10_fault(s: str) -> str | None:
    """What is wrong with an ICD-10 code of any edition used in China, or ``None``."""
    return codes.code_fault("icd10", s)


def is_icd10(s: str) -> bool:
    """True for a code with the shape of a known ICD-10 edition (WHO, 国家临床版 2.0, 医保版 2.0).

    Shape only (``S62.6``, ``S62.600x001``, ``C73.x00``): the gateway carries diagnoses, it
    does not judge them, and the catalogue is the hospital's and the insurer's business.
    """
    return icd10_fault(s) is None


def icd9cm3_fault(s: str) -> str | None:
    """What is wrong with an ICD-9-CM-3 operation code of any edition, or ``None``."""
    return codes.code_fault("icd9cm3", s)


def is_icd9cm3(s: str) -> bool:
    """True for a code with the shape of ICD-9-CM-3 or its national clinical edition 3.0."""
    return icd9cm3_fault(s) is None


def _edition_checker(
    code_set: str, edition: str
) -> tuple[Callable[[str], bool], Callable[[str], str | None]]:
    def fault(s: str) -> str | None:
        return codes.code_fault(code_set, s, edition)

    def check(s: str) -> bool:
        return fault(s) is None

    return check, fault


# --- money ------------------------------------------------------------------------------------

_MONEY = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?")


def is_decimal_money(s: str) -> bool:
    """True for a non-negative amount in yuan as a decimal string with at most 2 decimals.

    Strings, not JSON numbers: a JSON number goes through binary floating point in most
    parsers, and "21582.40" must arrive as exactly 21582.40. No sign, exponent or leading
    zeros, so each amount has one spelling.
    """
    return _MONEY.fullmatch(s) is not None


# --- dates ------------------------------------------------------------------------------------

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def parse_date(s: str) -> date | None:
    """An RFC 3339 ``full-date`` as a ``date``, or ``None`` when it is not a real date."""
    if not _DATE.fullmatch(s):
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        return None


def parse_date_time(s: str) -> datetime | None:
    """An RFC 3339 ``date-time`` (offset required) as an aware ``datetime``, or ``None``.

    The pattern fixes the shape; ``fromisoformat`` then refuses what is not a real moment
    (30 February, hour 24, offset +24:00). Fractions beyond microseconds are truncated.
    """
    if _DATE_TIME.fullmatch(s) is None:
        return None
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


def is_date(s: str) -> bool:
    """True for an RFC 3339 ``full-date`` that exists in the calendar (no 2026-02-30)."""
    return parse_date(s) is not None


def is_date_time(s: str) -> bool:
    """True for an RFC 3339 ``date-time`` with an explicit offset and a real calendar date."""
    return parse_date_time(s) is not None


# --- phone numbers ----------------------------------------------------------------------------

_PHONE_CN = re.compile(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}")


def is_phone_cn(s: str) -> bool:
    """True for a mainland mobile number (11 digits) or a landline with its area code."""
    return _PHONE_CN.fullmatch(s) is not None


#: formats named by a document's own declaration of kind or edition (``x-kind-formats``)
KIND_FORMATS: dict[str, tuple[Callable[[str], bool], Callable[[str], str | None]]] = {
    **{f"id-{key}": _kind_checker(key) for key in identity.kinds()},
    **{f"code-{e.key}": _edition_checker(e.code_set, e.key) for e in codes.editions().values()},
}

FORMATS: dict[str, Callable[[str], bool]] = {
    "resident-id": is_resident_id,
    "id-number": is_id_number,
    "uscc": is_uscc,
    "gb2260": is_gb2260,
    "icd10": is_icd10,
    "icd9cm3": is_icd9cm3,
    "decimal-money": is_decimal_money,
    "date": is_date,
    "date-time": is_date_time,
    "phone-cn": is_phone_cn,
    **{name: check for name, (check, _) in KIND_FORMATS.items()},
}
"""The custom formats, by the name schemas use in ``format``. Both compilers get this dict."""

FORMAT_MESSAGES: dict[str, str] = {
    "resident-id": "not a valid resident ID number",
    "id-number": (
        "not a valid identity number (resident ID, residence permit or permanent residence ID)"
    ),
    "uscc": "not a valid unified social credit code",
    "gb2260": "not a valid region code (GB/T 2260, 6 digits)",
    "icd10": "not a valid ICD-10 code",
    "icd9cm3": "not a valid ICD-9-CM-3 operation code",
    "decimal-money": (
        'not a valid amount (decimal string, at most 2 decimals, no sign, e.g. "21582.40")'
    ),
    "date": "not a valid date (RFC 3339 full-date YYYY-MM-DD, a real calendar day)",
    "date-time": "not a valid date-time (RFC 3339, e.g. 2026-07-11T09:30:00+08:00)",
    "phone-cn": "not a valid phone number (mainland mobile, or landline with area code)",
    **{f"id-{k.key}": f"not a valid {k.name}" for k in identity.kinds().values()},
    **{f"code-{e.key}": f"not a code of {e.name}" for e in codes.editions().values()},
}
"""Fallback message per format, used when no more precise ``*_fault`` explanation exists."""

FAULTS: dict[str, Callable[[str], str | None]] = {
    "resident-id": resident_id_fault,
    "id-number": id_number_fault,
    "uscc": uscc_fault,
    "gb2260": gb2260_fault,
    "icd10": icd10_fault,
    "icd9cm3": icd9cm3_fault,
    **{name: fault for name, (_, fault) in KIND_FORMATS.items()},
}
"""Formats whose checkers can say which rule failed; the message then names that rule."""
