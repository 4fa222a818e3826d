"""Personal identity numbers by kind (``data/id_kinds.toml``): resident ID (GB 11643), the
Hong Kong, Macao and Taiwan residents' residence permits, the 2023 foreigners' permanent
residence ID card.

All kinds share the GB 11643 layout: 17 digits and a MOD 11-2 check character, with a birth
date in characters 7-14; characters 1-6 tell the kind apart (a GB/T 2260 code, 810000,
820000, 830000, or ``9`` + province + nationality). Faults name the rule, never the value.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from importlib import resources
from operator import mul

from gateway.validation.regions import regions

DATA_PACKAGE = "gateway.validation"
TABLE = "data/id_kinds.toml"
WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
ALPHABET = "0123456789X"
EARLIEST_BIRTH = date(1900, 1, 1)
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
CHINA_NATIONALITY = "156"  # GB/T 2659.1: a Chinese citizen holds a resident ID instead
FOREIGN = "foreign"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")  # ASCII only, upper-case X
_ZERO_SUM = ord("0") * sum(WEIGHTS)


@dataclass(frozen=True, slots=True)
class IdKind:
    key: str  # the value of ``id_kind`` in documents
    name: str
    source: str
    region: str  # "gb2260", a fixed six-digit code, or "foreign"


@cache
def kinds() -> dict[str, IdKind]:
    """Every kind by its ``id_kind`` key, read once from the shipped table."""
    text = (resources.files(DATA_PACKAGE) / TABLE).read_text(encoding="utf-8")
    return {
        k: IdKind(k, v["name"], v["source"], v["region"]) for k, v in tomllib.loads(text).items()
    }


def check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 ASCII digits (MOD 11-2).

    Computed on the ASCII codes (sum of w * (code - 48) = sum of w * code - 48 * sum of w):
    it runs on every ID number of every message.
    """
    total = sum(map(mul, first17.encode("ascii"), WEIGHTS)) - _ZERO_SUM
    return CHECK_CHARS[total % 11]


@cache
def _kind_by_region() -> dict[str, str]:
    return {k.region: k.key for k in kinds().values() if k.region.isdigit()}


def kind_of(number: str) -> str:
    """The kind an 18-character number's first six characters say (not a validity check)."""
    if number[:1] == "9":
        return "foreign_permanent_residence"
    return _kind_by_region().get(number[:6], "resident")


def _region_fault(kind: IdKind, number: str, born: date) -> str | None:
    part = number[:6]
    if kind.region == FOREIGN:
        if number[0] != "9" or not regions().is_current(number[1:3] + "0000"):
            return "must start with 9 and the GB/T 2260 province code of the issuing office"
        if number[3:6] == CHINA_NATIONALITY:
            return "nationality code part is China's (156)"
        return None
    if kind.region != "gb2260":
        return None if part == kind.region else f"region code part must be {kind.region}"
    if not regions().valid_for_birth(part, number[6:12]):
        return "region code part is not a GB/T 2260 code listed at the birth date"
    return None


def _birth(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def id_number_fault(
    number: str, kind: str | None = None, *, today: date | None = None
) -> str | None:
    """What is wrong with an identity number of ``kind`` (default: the kind its shape says).

    ``today`` bounds the birth date; it defaults to the current date in China Standard Time
    (a child born this morning in Yongkang is not refused because UTC is still on yesterday).
    """
    spec = kinds().get(kind or kind_of(number))
    if spec is None:
        return "unknown identity number kind"
    what = f"not a valid {spec.name}"
    if not _SHAPE.fullmatch(number):
        return f"{what} (must be 17 digits and a check digit or X)"
    born = _birth(number)
    if born is None:
        return f"{what} (birth date part is not a real date)"
    if born < EARLIEST_BIRTH or born > (today or datetime.now(CHINA_STANDARD_TIME).date()):
        return f"{what} (birth date part is out of range)"
    region = _region_fault(spec, number, born)
    if region is not None:
        return f"{what} ({region}, {spec.source.split(':')[0]})"
    if check_char(number[:17]) != number[17]:
        return f"{what} (GB 11643 check character)"
    return None
