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
from datetime import date, datetime, timedelta, timezone
from operator import mul

# GB/T 2260 province-level codes (first two digits of a region code), including Taiwan (71),
# Hong Kong (81) and Macao (82), which appear in resident ID numbers of residence permits.
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)]
    + [str(n) for n in range(21, 24)]
    + [str(n) for n in range(31, 38)]
    + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)]
    + [str(n) for n in range(61, 66)]
    + ["71", "81", "82"]
)

# --- resident ID number, GB 11643-1999 (ISO 7064 MOD 11-2) ------------------------------------

RESIDENT_ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK_CHARS = "10X98765432"
RESIDENT_ID_ALPHABET = "0123456789X"
_RESIDENT_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")  # ASCII only, upper-case X
EARLIEST_BIRTH = date(1900, 1, 1)
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
_RESIDENT_ID_ZERO_SUM = ord("0") * sum(RESIDENT_ID_WEIGHTS)


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 (ASCII) digits (MOD 11-2).

    Computed on the ASCII codes (sum of w * (code - 48) = sum of w * code - 48 * sum of w):
    this runs on every ID number of every message, and avoids 17 ``int()`` calls.
    """
    total = sum(map(mul, first17.encode("ascii"), RESIDENT_ID_WEIGHTS)) - _RESIDENT_ID_ZERO_SUM
    return RESIDENT_ID_CHECK_CHARS[total % 11]


def resident_id_fault(s: str, *, today: date | None = None) -> str | None:
    """What is wrong with a resident ID number, or ``None``.

    ``today`` bounds the birth date; it defaults to the current date in China Standard Time (a
    child born this morning in Yongkang is not refused because UTC is still on yesterday) and
    is a parameter so tests are not at the mercy of the calendar.
    """
    if not _RESIDENT_ID_SHAPE.fullmatch(s):
        return "not a valid resident ID number (must be 17 digits and a check digit or X)"
    if s[:2] not in PROVINCE_CODES:
        return "not a valid resident ID number (region code part is not a GB/T 2260 code)"
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return "not a valid resident ID number (birth date part is not a real date)"
    if born < EARLIEST_BIRTH or born > (today or datetime.now(CHINA_STANDARD_TIME).date()):
        return "not a valid resident ID number (birth date part is out of range)"
    if resident_id_check_char(s[:17]) != s[17]:
        return "not a valid resident ID number (GB 11643 check character)"
    return None


def is_resident_id(s: str) -> bool:
    """True for a GB 11643 resident ID number: shape, region, birth date and check character."""
    return resident_id_fault(s) is None


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
    if not _USCC_LAYOUT.fullmatch(s) or s[2:4] not in PROVINCE_CODES:
        return "not a valid unified social credit code (characters 3-8 must be a region code)"
    if uscc_check_char(s[:17]) != s[17]:
        return "not a valid unified social credit code (GB 32100 check character)"
    return None


def is_uscc(s: str) -> bool:
    """True for a GB 32100 unified social credit code with a correct check character."""
    return uscc_fault(s) is None


# --- region code, GB/T 2260 -------------------------------------------------------------------

_GB2260_SHAPE = re.compile(r"[0-9]{6}")


def gb2260_fault(s: str) -> str | None:
    """What is wrong with a six-digit administrative region code, or ``None``.

    Only the province prefix is checked against a list: county codes change every year
    (mergers, new districts), and a gateway that refused a freshly created district would stop
    a whole county's traffic. ``330000`` (province), ``330700`` (city) and ``330784`` (county)
    are all valid.
    """
    if not _GB2260_SHAPE.fullmatch(s):
        return "not a valid region code (must be 6 digits, GB/T 2260)"
    if s[:2] not in PROVINCE_CODES:
        return "not a valid region code (unknown province prefix, GB/T 2260)"
    return None


def is_gb2260(s: str) -> bool:
    """True for a six-digit GB/T 2260 region code with a known province prefix."""
    return gb2260_fault(s) is None


# --- ICD-10 code shape ------------------------------------------------------------------------

_ICD10 = re.compile(r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,2})?")


def is_icd10(s: str) -> bool:
    """True for an ICD-10 code shape: letter, two digits, optional ``.`` and 1-2 characters.

    Shape only (``S62.6``, ``S62.60``, ``T14.9``): the gateway carries diagnoses, it does not
    judge them, and the code list is the hospital's and the insurer's business.
    """
    return _ICD10.fullmatch(s) is not None


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


FORMATS: dict[str, Callable[[str], bool]] = {
    "resident-id": is_resident_id,
    "uscc": is_uscc,
    "gb2260": is_gb2260,
    "icd10": is_icd10,
    "decimal-money": is_decimal_money,
    "date": is_date,
    "date-time": is_date_time,
    "phone-cn": is_phone_cn,
}
"""The custom formats, by the name schemas use in ``format``. Both compilers get this dict."""

FORMAT_MESSAGES: dict[str, str] = {
    "resident-id": "not a valid resident ID number",
    "uscc": "not a valid unified social credit code",
    "gb2260": "not a valid region code (GB/T 2260, 6 digits)",
    "icd10": "not a valid ICD-10 code (letter, two digits, optional '.' and 1-2 characters)",
    "decimal-money": (
        'not a valid amount (decimal string, at most 2 decimals, no sign, e.g. "21582.40")'
    ),
    "date": "not a valid date (RFC 3339 full-date YYYY-MM-DD, a real calendar day)",
    "date-time": "not a valid date-time (RFC 3339, e.g. 2026-07-11T09:30:00+08:00)",
    "phone-cn": "not a valid phone number (mainland mobile, or landline with area code)",
}
"""Fallback message per format, used when no more precise ``*_fault`` explanation exists."""

FAULTS: dict[str, Callable[[str], str | None]] = {
    "resident-id": resident_id_fault,
    "uscc": uscc_fault,
    "gb2260": gb2260_fault,
}
"""Formats whose checkers can say which rule failed; the message then names that rule."""
