"""CloudEvents 1.0 events in structured JSON mode: the payload of every message (DESIGN 3).

``parse_event`` reads the exact payload bytes with the strict reader and checks the context
attributes; ``build_event`` writes payload bytes for senders (adapters, the CLI).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.clock import utc_iso
from gateway.configuration.model import EventSettings
from gateway.masking import holds_personal_data
from gateway.messages import strict_json
from gateway.messages.extensions import check_extensions
from gateway.messages.mediatype import parse_media_type
from gateway.problems import EventError, Violation

__all__ = [
    "DEPARTMENT_ID",
    "EVENT_TYPE",
    "CloudEvent",
    "build_event",
    "parse_event",
    "schema_id",
]

#: ``<GB/T 2260 region code>.<agency>[.<unit>]``
DEPARTMENT_ID = re.compile(r"\d{6}(\.[a-z][a-z0-9_-]*){1,2}")
#: ``cn.gov.zj.<domain>.<name>.v<major>``
EVENT_TYPE = re.compile(r"cn\.gov\.zj\.[a-z0-9_.]+\.v\d+")
# RFC 3339 date-time (section 5.6) with a mandatory offset. T and Z may be lower case.
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)
#: what ``parse_event`` applies when not told: any extension name (stored messages were
#: checked against the deployment's allow-list when they were accepted)
ANY_EXTENSION = EventSettings(extensions=None)

_KNOWN = frozenset(
    {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "dataschema",
        "datacontenttype",
        "data",
    }
)
MAX_ID_LENGTH = 128


def schema_id(event_type: str) -> str:
    """The ``$id`` of a document type's schema, used as the event's ``dataschema``."""
    return f"urn:zj-exchange:schema:{event_type}"


@dataclass(frozen=True, slots=True)
class CloudEvent:
    specversion: str
    id: str
    source: str
    type: str
    subject: str | None
    time: datetime
    dataschema: str | None
    datacontenttype: str | None
    data: dict[str, Any]
    #: the exact payload bytes (what the signatures cover)
    raw: bytes = field(repr=False)
    #: CloudEvents extension attributes, if any
    extensions: dict[str, Any] = field(default_factory=dict)


def _fail(pointer: str, message: str) -> EventError:
    return EventError(
        f"event attribute '{pointer}': {message}",
        violations=[Violation(pointer, message)],
    )


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 date-time with an offset, or None."""
    m = _RFC3339.fullmatch(value)
    if m is None:
        return None
    date, clock, fraction, offset = m.groups()
    fraction = (fraction or "")[:7]  # datetime keeps microseconds
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{date}T{clock}{fraction}{offset}")
    except ValueError:
        return None


def _optional_str(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None and name not in obj:
        return None
    if not isinstance(value, str) or not value:
        raise _fail("/" + name, "must be a non-empty string when present")
    return value


def parse_event(
    payload: bytes,
    *,
    max_bytes: int = strict_json.DEFAULT_MAX_BYTES,
    rules: EventSettings = ANY_EXTENSION,
) -> CloudEvent:
    """Parse and check a CloudEvents 1.0 structured-mode event, or raise ``EventError``
    (``StrictJSONError`` subclasses when the bytes are not strict JSON). ``rules`` are the
    deployment's bounds and allow-list for extension attributes (``[events]``)."""
    obj = strict_json.loads(payload, max_bytes=max_bytes)
    if not isinstance(obj, dict):
        raise _fail("", "the event must be a JSON object")

    if obj.get("specversion") != "1.0":
        raise _fail("/specversion", 'must be "1.0"')

    event_id = obj.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise _fail("/id", "must be a non-empty string")
    if len(event_id) > MAX_ID_LENGTH or not event_id.isprintable():
        raise _fail("/id", f"must be at most {MAX_ID_LENGTH} printable characters")
    if holds_personal_data(event_id):
        raise _fail("/id", "looks like personal data (an ID or mobile number); ids are logged")

    source = obj.get("source")
    if not isinstance(source, str) or DEPARTMENT_ID.fullmatch(source) is None:
        raise _fail("/source", "must be a department id like 330784.health.h001")

    event_type = obj.get("type")
    if not isinstance(event_type, str) or EVENT_TYPE.fullmatch(event_type) is None:
        raise _fail("/type", "must be a document type like cn.gov.zj.injury.<name>.v1")

    subject = _optional_str(obj, "subject")
    if subject is not None and (len(subject) > MAX_ID_LENGTH or not subject.isprintable()):
        # the subject is the case id: stored, indexed and shown, so bounded and printable
        raise _fail("/subject", f"must be at most {MAX_ID_LENGTH} printable characters")
    if subject is not None and holds_personal_data(subject):
        raise _fail("/subject", "looks like personal data (an ID or mobile number); use a case id")

    raw_time = obj.get("time")
    when = parse_time(raw_time) if isinstance(raw_time, str) else None
    if when is None:
        raise _fail("/time", "must be an RFC 3339 date-time with an offset")

    dataschema = _optional_str(obj, "dataschema")
    datacontenttype = _optional_str(obj, "datacontenttype")
    if datacontenttype is not None:
        _check_content_type(datacontenttype)

    if "data_base64" in obj:
        raise _fail("/data_base64", "binary data is not accepted; send a JSON object in data")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise _fail("/data", "must be a JSON object")

    extensions = check_extensions(obj, set(obj.keys() - _KNOWN), rules)

    return CloudEvent(
        specversion="1.0",
        id=event_id,
        source=source,
        type=event_type,
        subject=subject,
        time=when,
        dataschema=dataschema,
        datacontenttype=datacontenttype,
        data=data,
        raw=payload,
        extensions=extensions,
    )


def _check_content_type(text: str) -> None:
    """``datacontenttype`` is a media type (RFC 2046 via RFC 9110 section 8.3.1), parameters
    allowed; ``data`` is a JSON object, so the type is JSON and any charset is UTF-8
    (RFC 8259 section 8.1)."""
    media = parse_media_type(text)
    if media is None or not media.is_json:
        raise _fail("/datacontenttype", "must be a JSON media type such as application/json")
    charset = media.parameters.get("charset")
    if charset is not None and charset.lower() != "utf-8":
        raise _fail("/datacontenttype", "JSON is UTF-8; charset must be utf-8 when given")


def build_event(
    *,
    source: str,
    type: str,
    data: dict[str, Any],
    id: str | None = None,
    subject: str | None = None,
    time: datetime | None = None,
    dataschema: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> bytes:
    """Payload bytes of a CloudEvent for a sender. ``id`` defaults to a random UUID, ``time``
    to now (UTC), ``dataschema`` to the type's schema id. The result is checked with
    ``parse_event`` so a sender cannot produce an event the gateway would refuse."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": id if id is not None else str(uuid.uuid4()),
        "source": source,
        "type": type,
    }
    if subject is not None:
        event["subject"] = subject
    event["time"] = utc_iso(time if time is not None else datetime.now(UTC))
    event["dataschema"] = dataschema if dataschema is not None else schema_id(type)
    event["datacontenttype"] = "application/json"
    if extensions:
        event.update(extensions)
    event["data"] = data
    payload = orjson.dumps(event)
    parse_event(payload)
    return payload
