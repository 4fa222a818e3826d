"""HL7 v2 text as the standard writes it (v2.5 chapter 2.7), read with the delimiters the
message declares in MSH-1/MSH-2. The sequences and their meaning are data
(``hl7_escapes.toml``); ``""`` (two double quotes) is an explicit null (v2.5 2.5.3)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

NULL = '""'
_HEX = re.compile(r"X((?:[0-9A-Fa-f]{2})+)")
_SPACE = re.compile(r"\.sp[0-9]*")


@cache
def _table() -> dict[str, dict[str, str]]:
    text = (resources.files("adapters.health") / "hl7_escapes.toml").read_text(encoding="utf-8")
    table: dict[str, dict[str, str]] = tomllib.loads(text)
    return table


@dataclass(frozen=True, slots=True)
class Delimiters:
    """From MSH-1 (field) and MSH-2 (component, repetition, escape, subcomponent)."""

    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str

    def unescape(self, raw: str, charset: str = "utf-8") -> str:
        """The plain text of a field value; malformed sequences are kept literally."""
        esc = self.escape
        if esc not in raw:
            return raw
        out: list[str] = []
        i = 0
        while i < len(raw):
            if raw[i] != esc:
                out.append(raw[i])
                i += 1
                continue
            end = raw.find(esc, i + 1)
            meaning = self._sequence(raw[i + 1 : end], charset) if end > i + 1 else None
            if meaning is None:  # unterminated, empty or unknown: kept as written
                out.append(esc)
                i += 1
                continue
            out.append(meaning)
            i = end + 1
        return "".join(out)

    def _sequence(self, body: str, charset: str) -> str | None:
        table = _table()
        delimiter = table["delimiters"].get(body)
        if delimiter is not None:
            return str(getattr(self, delimiter))
        if body in table["text"]:
            return table["text"][body]
        if _SPACE.fullmatch(body):
            return table["text"][".sp"]
        hexa = _HEX.fullmatch(body)
        if hexa:
            try:
                return bytes.fromhex(hexa.group(1)).decode(charset)
            except (UnicodeDecodeError, LookupError):
                return None
        return None
