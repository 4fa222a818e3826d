"""CloudEvent parsing: each attribute check names its JSON Pointer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from gateway.messages import CloudEvent, build_event, parse_event
from gateway.problems import DuplicateKeyError, EventError

from .conftest import HOSPITAL, NOW


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": HOSPITAL,
        "type": "cn.gov.zj.injury.medical_diagnosis.v1",
        "subject": "case-1",
        "time": "2026-07-24T17:30:00.123+08:00",
        "dataschema": "urn:zj-exchange:schema:cn.gov.zj.injury.medical_diagnosis.v1",
        "datacontenttype": "application/json",
        "data": {"a": 1},
    }
    for k, v in changes.items():
        if v is ...:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def test_parse_valid_event_keeps_raw_bytes() -> None:
    raw = orjson.dumps(event())
    ev = parse_event(raw)
    assert isinstance(ev, CloudEvent)
    assert ev.raw is raw
    assert ev.time == datetime(2026, 7, 24, 9, 30, 0, 123000, tzinfo=UTC)
    assert ev.time.utcoffset() == timedelta(hours=8)
    assert (ev.id, ev.source, ev.subject, ev.data) == ("evt-1", HOSPITAL, "case-1", {"a": 1})


def test_optional_attributes_and_extensions() -> None:
    ev = parse_event(
        orjson.dumps(event(subject=..., dataschema=..., datacontenttype=..., traceparent="00-x"))
    )
    assert ev.subject is None and ev.dataschema is None and ev.datacontenttype is None
    assert ev.extensions == {"traceparent": "00-x"}


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"specversion": "0.3"}, "/specversion"),
        ({"specversion": ...}, "/specversion"),
        ({"id": ""}, "/id"),
        ({"id": 5}, "/id"),
        ({"id": "x" * 129}, "/id"),
        ({"id": "a\nb"}, "/id"),
        ({"id": "11010519491231002X"}, "/id"),
        ({"subject": "tel-13812345678"}, "/subject"),
        ({"source": "health"}, "/source"),
        ({"source": "330784.Health"}, "/source"),
        ({"source": "330784.a.b.c"}, "/source"),
        ({"type": "medical_diagnosis"}, "/type"),
        ({"type": "cn.gov.zj.injury.diagnosis"}, "/type"),
        ({"time": "2026-07-24 17:30:00"}, "/time"),
        ({"time": "2026-07-24T17:30:00"}, "/time"),
        ({"time": "2026-13-24T17:30:00Z"}, "/time"),
        ({"time": ...}, "/time"),
        ({"datacontenttype": "text/xml"}, "/datacontenttype"),
        ({"dataschema": 3}, "/dataschema"),
        ({"subject": ""}, "/subject"),
        ({"data": [1]}, "/data"),
        ({"data": ...}, "/data"),
        ({"data_base64": "AA"}, "/data_base64"),
        ({"Bad-Name": 1}, "/Bad-Name"),
    ],
)
def test_attribute_refusals_name_the_pointer(changes: dict[str, Any], pointer: str) -> None:
    with pytest.raises(EventError) as exc:
        parse_event(orjson.dumps(event(**changes)))
    assert exc.value.slug == "invalid-event"
    assert exc.value.violations[0].pointer == pointer


def test_not_an_object() -> None:
    with pytest.raises(EventError):
        parse_event(b"[1]")


def test_strict_json_applies_to_the_payload() -> None:
    with pytest.raises(DuplicateKeyError):
        parse_event(b'{"id": "a", "id": "b"}')


def test_build_event_round_trip() -> None:
    raw = build_event(
        source=HOSPITAL,
        type="cn.gov.zj.injury.outpatient_record.v1",
        data={"k": "诊断"},
        id="fixed",
        time=NOW.astimezone(timezone(timedelta(hours=8))),
    )
    ev = parse_event(raw)
    assert ev.id == "fixed" and ev.time == NOW
    assert orjson.loads(raw)["time"] == "2026-07-24T09:30:00.000Z"
    assert ev.dataschema == "urn:zj-exchange:schema:cn.gov.zj.injury.outpatient_record.v1"
    with pytest.raises(EventError):
        build_event(source="nope", type="cn.gov.zj.injury.x.v1", data={})
