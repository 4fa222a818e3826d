"""Masking of personal data in log events: a structlog processor.

It decides by field first, then by kind of value. By field: values under name-like and
diagnosis-like keys are replaced whole (a name has no shape a pattern could find), and values
under identifier keys (request ids, message and event ids, case ids, sequence numbers, hashes,
key ids) are never altered: the request id in an answer must find its log line. By kind of
value: in every other string, anywhere in the event (nested values and rendered exceptions
included), resident ID numbers, mainland mobile numbers and bank account numbers are masked
when they stand alone, not inside a longer token of letters and digits (a hex digest).

Why identifiers may pass untouched: the gateway never lets personal data into one. An event
id or subject shaped like an ID number or a mobile number is refused at acceptance, and a
client's ``X-Request-Id`` holding one is replaced (``holds_personal_data``). An account number
has no shape of its own (any 12-19 digits), so it is masked in free text only.

Masked forms keep just enough for an operator to tell two values apart in an incident: an ID
number keeps its first 3 digits (the province and city) and its check character, a mobile its
first 3 and last 2 digits, an account its last 4.

What neither net can see: a name in free text (an exception message, an event string). Code
must pass personal values as keyword arguments under telling keys, never format them into text.
Standard-library records (aiohttp, asyncio) get the shape net through ``MaskingFilter``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

MASK = "***"
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{3})\d{14}([\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{6}(\d{2})(?![0-9A-Za-z])")
_ACCOUNT = re.compile(r"(?<![0-9A-Za-z])\d{8,15}(\d{4})(?![0-9A-Za-z])")
_SENSITIVE_KEYS = re.compile(
    r"(^|_)(name|names|applicant|payee|patient|worker|witness|diagnosis|diagnoses|icd10|"
    r"phone|mobile|id_number|account|account_number|address)(\Z|_)",
    re.IGNORECASE,
)
#: keys whose values are identifiers, never personal data, and never altered
IDENTIFIER_KEYS = frozenset(
    {
        "request_id",
        "message_id",
        "event_id",
        "case_id",
        "subject",
        "seq",
        "sequence",
        "sequences",
        "sha256",
        "payload_sha256",
        "hash",
        "prev_hash",
        "digest",
        "kid",
        "instance",
        "owner",
    }
)
_SENSITIVE_PREFIXES = re.compile(r"(^|_)(diagnos|icd_?10)", re.IGNORECASE)
_SAFE_KEYS = frozenset({"event", "level", "timestamp", "logger", "route", "method"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def sensitive_key(key: str) -> bool:
    """Name-, diagnosis- and the like keys, in snake_case or camelCase (``applicantName``)."""
    if key in _SAFE_KEYS:
        return False
    snake = _CAMEL.sub("_", key).lower()
    return bool(_SENSITIVE_KEYS.search(snake) or _SENSITIVE_PREFIXES.search(snake))


def holds_personal_data(text: str) -> bool:
    """Whether ``text`` holds a value of a kind that is personal by its shape alone: a
    resident ID number (GB 11643) or a mainland mobile number. For identifiers a client
    chooses (event ids, subjects, request ids), which are then logged untouched."""
    return bool(_ID_NUMBER.search(text) or _MOBILE.search(text))


def mask_text(text: str) -> str:
    text = _ID_NUMBER.sub(lambda m: f"{m.group(1)}{'*' * 14}{m.group(2)}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}******{m.group(2)}", text)
    return _ACCOUNT.sub(lambda m: f"****{m.group(1)}", text)


def mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v) for v in value]
    return value


def _mask_item(key: str, value: Any) -> Any:
    if key in IDENTIFIER_KEYS and isinstance(value, str | int):
        return value
    if sensitive_key(key) and value not in (None, ""):
        return MASK
    return mask_value(value)


class MaskingFilter(logging.Filter):
    """For standard-library log records (aiohttp, asyncio) that do not pass through structlog:
    masks the message and the rendered exception by shape."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def mask_personal_data(
    logger: object, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor; runs after exceptions are rendered, before the renderer."""
    for key in list(event_dict):
        event_dict[key] = _mask_item(key, event_dict[key])
    return event_dict
