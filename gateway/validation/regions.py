"""The GB/T 2260 region table (``data/gb2260.tsv``): current codes and historic ones.

A field that names a place today must hold a *current* code. A resident ID number keeps the
code of the place where it was first issued, so inside one a *historic* code is valid for a
person born before the code was last listed. The table names its sources and their versions
in its header; this module only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

DATA_PACKAGE = "gateway.validation"
TABLE = "data/gb2260.tsv"


@dataclass(frozen=True, slots=True)
class Regions:
    """``current``: code -> name; ``historic``: code -> last revision listing it (``YYYYMM``);
    ``national``: the central level's registration code (credit codes only)."""

    current: dict[str, str]
    historic: dict[str, str]
    national: frozenset[str] = frozenset()

    def is_current(self, code: str) -> bool:
        return code in self.current

    def valid_for_birth(self, code: str, born_yyyymm: str) -> bool:
        """A current code, or a historic one still listed in the month of birth or later
        (``born_yyyymm`` as in the number: ``YYYYMM``, compared as text)."""
        if code in self.current:
            return True
        last = self.historic.get(code)
        return last is not None and born_yyyymm <= last

    def known(self, code: str) -> bool:
        """Current, historic or national: what a credit code's registration part may hold."""
        return code in self.current or code in self.historic or code in self.national


def parse_table(text: str) -> Regions:
    """Rows ``code<TAB>name<TAB>status<TAB>last_listed``; ``#`` lines and the header skipped."""
    current: dict[str, str] = {}
    historic: dict[str, str] = {}
    national: set[str] = set()
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("code\t"):
            continue
        code, name, status, last = line.split("\t")
        if status == "current":
            current[code] = name
        elif status == "historic":
            historic[code] = last
        elif status == "national":
            national.add(code)
        else:
            raise ValueError(f"{TABLE}: unknown status {status!r} for {code}")
    return Regions(current, historic, frozenset(national))


@cache
def regions() -> Regions:
    """The shipped table, read once through importlib.resources (works from a wheel)."""
    text = (resources.files(DATA_PACKAGE) / TABLE).read_text(encoding="utf-8")
    return parse_table(text)
