"""Control characters in documents: no string of a canonical document, and no member name,
holds a C0 control character other than tab, line feed and carriage return, nor DEL (Unicode
"Cc" characters of the ASCII range; RFC 8259 section 7 lets JSON carry them escaped, the
documents' meaning never needs them). A NUL in a name or an ESC sequence in free text is
refused at its place (JSON Pointer), never quoted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

import orjson

from gateway.problems import Violation

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# in orjson's output a control character is \\u00XX, \\b or \\f, and DEL is itself; an escaped
# backslash before "u0001" or "b" also matches, which only costs the walk that finds nothing
_CONTROL_IN_JSON: Final = re.compile(rb"\\(?:u00[01][0-9a-f]|[bf])|\x7f")
IN_TEXT: Final = "holds control characters"
IN_NAME: Final = "a member name holds control characters"


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def control_violations(data: object) -> list[Violation]:
    """Every place of ``data`` holding a control character (``_walk``); one serialisation
    and one byte search when there is none, which is nearly always."""
    try:
        if _CONTROL_IN_JSON.search(orjson.dumps(data)) is None:
            return []
    except TypeError:  # not plain JSON data (an adapter's Decimal): walk it
        pass
    return list(_walk(data))


def _walk(data: object, pointer: str = "") -> Iterator[Violation]:
    """Each string (``IN_TEXT``) and each object holding a member name (``IN_NAME``) with a
    control character, by JSON Pointer (RFC 6901)."""
    if isinstance(data, str):
        if _CONTROL.search(data):
            yield Violation(pointer, IN_TEXT)
    elif isinstance(data, dict):
        if any(_CONTROL.search(key) for key in data if isinstance(key, str)):
            yield Violation(pointer, IN_NAME)
        for key, value in data.items():
            if not (isinstance(key, str) and _CONTROL.search(key)):
                yield from _walk(value, f"{pointer}/{_escape(key)}")
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _walk(item, f"{pointer}/{index}")
