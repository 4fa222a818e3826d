"""The CloudEvents 1.0 envelope checked completely (issue 12): extension names matched whole
and bounded by the deployment, values of CloudEvents types only, bounded in number and size,
allow-listed, and ``datacontenttype`` read as a media type with parameters."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.configuration.model import EventSettings
from gateway.messages import parse_event
from gateway.problems import EventError

from .test_event import event

DEPLOYMENT = EventSettings(extensions=frozenset({"traceparent", "tracestate", "partitionkey"}))


def _refused(raw: dict[str, Any], rules: EventSettings = DEPLOYMENT) -> EventError:
    with pytest.raises(EventError) as exc:
        parse_event(orjson.dumps(raw), rules=rules)
    assert exc.value.slug == "invalid-event"
    return exc.value


@pytest.mark.parametrize(
    ("extensions", "pointer"),
    [
        ({"source\n": "330784.police.traffic"}, "/source\n"),  # a shadow of a core attribute
        ({"data\n": {"x": 1}}, "/data\n"),
        ({"traceparent\n": "00-x"}, "/traceparent\n"),
        ({"Traceparent": "00-x"}, "/Traceparent"),
        ({"trace_parent": "00-x"}, "/trace_parent"),
        ({"traceparent": {"a": 1}}, "/traceparent"),
        ({"traceparent": [1, 2]}, "/traceparent"),
        ({"traceparent": None}, "/traceparent"),
        ({"traceparent": 1.5}, "/traceparent"),
        ({"traceparent": 2**31}, "/traceparent"),
        ({"traceparent": "a\u0085b"}, "/traceparent"),
        ({"traceparent": "id 11010519491231002X"}, "/traceparent"),  # personal data
        ({"tracestate": "tel 13812345678"}, "/tracestate"),
        ({"unlisted": "x"}, "/unlisted"),
    ],
)
def test_extension_refusals_name_the_attribute(extensions: dict[str, Any], pointer: str) -> None:
    error = _refused(event(**extensions))
    assert error.violations[0].pointer == pointer


def test_ten_thousand_extensions_are_refused_as_a_whole() -> None:
    many = {f"x{i}": "v" for i in range(10_000)}
    error = _refused(event(**many), EventSettings(extensions=None))
    assert "10000 extension attributes" in error.detail


def test_a_700_kb_extension_is_refused() -> None:
    error = _refused(event(traceparent="a" * 700_000))
    assert "4096 bytes" in error.detail


def test_extension_values_of_cloudevents_types_are_kept() -> None:
    ev = parse_event(
        orjson.dumps(event(traceparent="00-abc", tracestate=False, partitionkey=-(2**31))),
        rules=DEPLOYMENT,
    )
    assert ev.extensions == {"traceparent": "00-abc", "tracestate": False, "partitionkey": -(2**31)}


def test_a_21_character_name_is_a_should_not_a_must() -> None:
    name = "a" * 21
    rules = EventSettings(extensions=frozenset({name}))
    assert parse_event(orjson.dumps(event(**{name: "x"})), rules=rules).extensions == {name: "x"}
    longer = EventSettings(max_name_length=20, extensions=None)
    assert _refused(event(**{name: "x"}), longer).violations[0].pointer == "/" + name


@pytest.mark.parametrize(
    "media_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
        "Application/JSON",
        "application/cloudevents+json; profile=x",
    ],
)
def test_datacontenttype_is_a_media_type_with_parameters(media_type: str) -> None:
    ev = parse_event(orjson.dumps(event(datacontenttype=media_type)))
    assert ev.datacontenttype == media_type


@pytest.mark.parametrize(
    "media_type",
    [
        "application/json\n",
        "application/json;",
        "application/json; charset=gbk",
        "application/json; a=1; a=2",
        "text/xml",
        "application/xml+jsonx",
        "application",
    ],
)
def test_datacontenttype_refusals(media_type: str) -> None:
    error = _refused(event(datacontenttype=media_type))
    assert error.violations[0].pointer == "/datacontenttype"


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("time", "2026-07-24T17:30:00+08:00\n"),
        ("source", "330784.health.h001\n"),
        ("type", "cn.gov.zj.injury.medical_diagnosis.v1\n"),
    ],
)
def test_a_trailing_newline_is_not_part_of_a_valid_value(attribute: str, value: str) -> None:
    assert _refused(event(**{attribute: value})).violations[0].pointer == "/" + attribute
