"""CloudEvents extension attributes: names, values and bounds.

Sources: CloudEvents 1.0 section 3.1 "Attribute Naming Convention" (lower-case ASCII letters
and digits; SHOULD NOT exceed 20 characters, so the bound is the deployment's
``[events] max_name_length``) and section 3.1.1 "Type System" (Boolean, Integer in
-2,147,483,648..2,147,483,647, String without control characters, Binary, URI,
URI-reference, Timestamp; in the JSON format, section 2.2 of json-format.md, every one of
them is a JSON string, number or boolean, never an object, an array or null).

Beyond the specification, a deployment allow-lists the names it accepts, bounds their number
and total size, and refuses a value shaped like personal data: personal data belongs in
``data``, under its schema, where it is checked and masked, not in an attribute every hop
logs.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.configuration.model import EventSettings
from gateway.masking import mask_text
from gateway.messages import strict_json
from gateway.problems import EventError, Violation

__all__ = ["ATTRIBUTE_NAME", "check_extensions"]

#: lower-case ASCII letters and digits, matched whole (length bounded separately)
ATTRIBUTE_NAME = re.compile(r"[a-z0-9]+")
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1
# String: "Sequence of allowable Unicode characters" excludes the C0 and C1 control
# characters and, in JSON, lone surrogates (the strict reader refuses those already).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_extensions(
    attributes: dict[str, Any], names: set[str], rules: EventSettings
) -> dict[str, Any]:
    """The extension attributes ``names`` of an event object, checked; raises ``EventError``
    naming the attribute's JSON Pointer."""
    if len(names) > rules.max_extensions:
        raise _fail(
            "",
            f"carries {len(names)} extension attributes; at most "
            f"{rules.max_extensions} are accepted",
        )
    extensions: dict[str, Any] = {}
    size = 0
    for name in sorted(names):
        pointer = strict_json.json_pointer([name])
        _check_name(name, pointer, rules)
        value = attributes[name]
        _check_value(value, pointer)
        size += len(name.encode()) + (len(value.encode()) if isinstance(value, str) else 8)
        if size > rules.max_extension_bytes:
            raise _fail("", f"extension attributes exceed {rules.max_extension_bytes} bytes")
        extensions[name] = value
    return extensions


def _check_name(name: str, pointer: str, rules: EventSettings) -> None:
    if ATTRIBUTE_NAME.fullmatch(name) is None:
        raise _fail(pointer, "not a CloudEvents attribute name (lower-case letters and digits)")
    if len(name) > rules.max_name_length:
        raise _fail(pointer, f"attribute names are at most {rules.max_name_length} characters")
    if rules.extensions is not None and name not in rules.extensions:
        allowed = ", ".join(sorted(rules.extensions)) or "none"
        raise _fail(pointer, f"extension not accepted by this gateway (accepted: {allowed})")


def _check_value(value: Any, pointer: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INTEGER_MIN <= value <= INTEGER_MAX:
            raise _fail(pointer, "a CloudEvents Integer is a signed 32-bit whole number")
        return
    if not isinstance(value, str):
        raise _fail(
            pointer,
            "extension values are CloudEvents types: a string, a 32-bit integer or a boolean",
        )
    if _CONTROL.search(value) is not None:
        raise _fail(pointer, "a CloudEvents String holds no control characters")
    if mask_text(value) != value:
        raise _fail(pointer, "looks like personal data; personal data belongs in data")


def _fail(pointer: str, message: str) -> EventError:
    return EventError(
        f"event attribute '{pointer or '/'}': {message}",
        violations=[Violation(pointer, message)],
    )
