"""Which language to answer in: English or Chinese, from ``Accept-Language``.

The header is a list of language ranges with quality values (RFC 9110 section 12.5.4); a range
matches a language when it equals it or is a prefix of it ending at a ``-`` (the "basic
filtering" of RFC 4647 section 3.3.1), and ``*`` matches any. The highest quality wins; among
equal qualities the earlier range wins; a quality of 0 means "not acceptable". Nothing
acceptable, or no header: English, the language every message is written in first.

Only two languages are offered, so ``zh``, ``zh-CN``, ``zh-Hans`` and ``zh-TW`` all choose
Chinese (the catalogue is in simplified Chinese, the script of Zhejiang's departments).
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
DEFAULT: Language = "en"
#: the ``Content-Language`` of an answer in each language (BCP 47)
CONTENT_LANGUAGE: dict[Language, str] = {"en": "en", "zh": "zh-CN"}

#: language-range of RFC 4647 section 2.1 (lower-cased before matching)
_RANGE = re.compile(r"\*|[a-z]{1,8}(-[a-z0-9]{1,8})*")
#: Headers longer than this are not parsed (a client sends a few ranges, never kilobytes).
_MAX_HEADER = 512


def negotiate(header: str | None) -> Language:
    """The language to answer in for an ``Accept-Language`` header value (or None)."""
    best: tuple[float, int, Language] | None = None
    for position, (tag, quality) in enumerate(_ranges(header or "")):
        language = _match(tag)
        if language is None or quality <= 0:
            continue
        candidate = (quality, -position, language)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return DEFAULT if best is None else best[2]


def parse(value: str | None) -> Language | None:
    """``value`` if it names an offered language exactly (a switch, a cookie), else None."""
    for language in LANGUAGES:
        if value == language:
            return language
    return None


def _ranges(header: str) -> list[tuple[str, float]]:
    if len(header) > _MAX_HEADER:
        return []
    found = []
    for item in header.split(","):
        tag, _, params = item.strip().partition(";")
        quality = _quality(params)
        tag = tag.strip().lower()
        if _RANGE.fullmatch(tag) and quality is not None:
            found.append((tag, quality))
    return found


def _quality(params: str) -> float | None:
    """The ``q`` weight (0 to 1, at most three decimals); None when malformed."""
    params = params.strip()
    if not params:
        return 1.0
    name, _, value = params.partition("=")
    if name.strip().lower() != "q":
        return None
    try:
        quality = float(value.strip())
    except ValueError:
        return None
    return quality if 0 <= quality <= 1 else None


def _match(tag: str) -> Language | None:
    if tag == "*":
        return DEFAULT
    for language in LANGUAGES:
        if tag == language or tag.startswith(language + "-"):
            return language
    return None
