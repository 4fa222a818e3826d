"""The adapter error. It names the file, the place (line, row or element) and the field, and
why; it never quotes the value, because values are personal data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    place: str  # "line 3", "row 4", "element /GAExport/Party[2]"
    field: str  # native field name, or a JSON Pointer into the canonical document
    reason: str

    def __str__(self) -> str:
        text = f"{self.file}: {self.place}: field {self.field}: {self.reason}"
        return text if text.isprintable() else "".join(map(_shown, text))


def _shown(char: str) -> str:
    """A character as an operator's terminal may show it: non-printable ones (C0/C1 controls,
    an escape sequence's ESC, line separators) as a Python escape, never raw."""
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class AdapterError(Exception):
    """A native record the adapter refuses. ``problems`` lists every fault found in it."""

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("an AdapterError needs at least one problem")
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems

    @classmethod
    def one(cls, file: str, place: str, field: str, reason: str) -> AdapterError:
        return cls([Problem(file, place, field, reason)])

    @property
    def first(self) -> Problem:
        return self.problems[0]
