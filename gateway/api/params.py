"""Whole-number parameters (sequence numbers, page sizes) read the same way everywhere.

Why one reader: ``str.isdigit`` accepts "²" and other Unicode digits that ``int`` then refuses,
and a number beyond 64 bits passes any digit check but overflows SQLite's INTEGER and
PostgreSQL's BIGINT; either would reach a client as a 5xx instead of a 400 naming the
parameter.
"""

from __future__ import annotations

import re

from aiohttp import web

from gateway.problem_types import INVALID_PARAMETER
from gateway.problems import MessageError, Violation

MAX_SEQUENCE = 2**63 - 1  # the stores' 64-bit integer columns
_DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(
    raw: str, name: str, where: str, *, minimum: int = 0, maximum: int = MAX_SEQUENCE
) -> int:
    """``raw`` as an int in ``minimum..maximum``; else 400 ``invalid-parameter`` naming
    ``where`` ("query", "path", "header") and ``name``, never echoing the value."""
    if _DIGITS.fullmatch(raw) is None or not minimum <= int(raw) <= maximum:
        raise MessageError(
            f"{where} parameter {name!r} must be a whole number between {minimum} and {maximum}",
            problem=INVALID_PARAMETER,
            violations=[Violation(f"/{where}/{name}", "not a whole number in range")],
        )
    return int(raw)


def query_number(
    request: web.Request, name: str, default: int, *, minimum: int = 0, maximum: int = MAX_SEQUENCE
) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    return whole_number(raw, name, "query", minimum=minimum, maximum=maximum)


def path_number(request: web.Request, name: str) -> int:
    return whole_number(request.match_info[name], name, "path")
