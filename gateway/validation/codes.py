"""Diagnosis (ICD-10) and operation (ICD-9-CM-3) code editions, from ``data/code_sets.toml``.

Each edition is a shape with its source; a document names the edition of each code
(``code_edition``), and the shape of that edition is what the code must have. Without an
edition a code must have the shape of at least one edition of its code set.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

DATA_PACKAGE = "gateway.validation"
TABLE = "data/code_sets.toml"
#: a dagger/asterisk pair written as one code: two ICD-10 codes, each with its mark
_PAIR = re.compile(r"([A-Z][0-9]{2}[0-9.x]*[†+])([A-Z][0-9]{2}[0-9.x]*\*)")


@dataclass(frozen=True, slots=True)
class Edition:
    code_set: str  # "icd10" or "icd9cm3"
    key: str  # the value of ``code_edition`` in documents, e.g. "cn_clinical_2.0"
    name: str
    source: str
    pattern: re.Pattern[str]

    def matches(self, code: str) -> bool:
        return self.pattern.fullmatch(code) is not None


def parse_editions(text: str) -> dict[str, Edition]:
    data = tomllib.loads(text)
    out: dict[str, Edition] = {}
    for code_set, editions in data.items():
        for key, spec in editions.items():
            out[key] = Edition(
                code_set, key, spec["name"], spec["source"], re.compile(spec["pattern"])
            )
    return out


@cache
def editions() -> dict[str, Edition]:
    """Every edition by its ``code_edition`` key, read once from the shipped table."""
    return parse_editions((resources.files(DATA_PACKAGE) / TABLE).read_text(encoding="utf-8"))


def editions_of(code_set: str) -> list[Edition]:
    return [e for e in editions().values() if e.code_set == code_set]


def matching_editions(code_set: str, code: str) -> list[str]:
    """The keys of the editions of ``code_set`` whose shape ``code`` has."""
    return [e.key for e in editions_of(code_set) if e.matches(code)]


@cache
def _any_edition(code_set: str) -> re.Pattern[str]:
    """One pattern for every edition of a code set: the fast path of every valid code."""
    return re.compile("|".join(f"(?:{e.pattern.pattern})" for e in editions_of(code_set)))


def code_fault(code_set: str, code: str, edition: str | None = None) -> str | None:
    """What is wrong with a code (naming the edition's rule), or ``None``."""
    if edition is None and _any_edition(code_set).fullmatch(code):
        return None
    if edition is not None:
        spec = editions().get(edition)
        if spec is None or spec.code_set != code_set:
            return f"unknown {code_set} edition"
        if not spec.matches(code):
            return f"not a code of {spec.name} (shape {spec.pattern.pattern})"
        return None
    if _PAIR.fullmatch(code):
        return "a dagger/asterisk pair is two codes, one per diagnosis"
    if not matching_editions(code_set, code):
        names = ", ".join(e.name for e in editions_of(code_set))
        return f"not a code of any known edition ({names})"
    return None


def split_pair(code: str) -> list[str]:
    """``A17.0†G01*`` -> ``["A17.0†", "G01*"]``; any other code -> ``[code]``."""
    found = _PAIR.fullmatch(code)
    return [found.group(1), found.group(2)] if found else [code]
