"""The strict reader: each refusal has its own slug; valid JSON passes; it is fast."""

from __future__ import annotations

import json
import time

import orjson
import pytest

from gateway.messages.strict_json import loads
from gateway.problems import (
    BodyTooLargeError,
    ByteOrderMarkError,
    DuplicateKeyError,
    InvalidUTF8Error,
    LoneSurrogateError,
    NonFiniteNumberError,
    StrictJSONError,
    TooDeepError,
)


def sample_event(size: int = 2048) -> bytes:
    event = {
        "specversion": "1.0",
        "id": "7f1c2a9e-0000-4000-8000-000000000001",
        "source": "330784.health.h001",
        "type": "cn.gov.zj.injury.medical_diagnosis.v1",
        "subject": "case-2026-000123",
        "time": "2026-07-11T08:00:00.000+08:00",
        "dataschema": "urn:zj-exchange:schema:cn.gov.zj.injury.medical_diagnosis.v1",
        "datacontenttype": "application/json",
        "data": {
            "patient": {"name": "张三", "id_number": "330784199001011234", "gender": "male"},
            "diagnoses": [],
            "hospital": "永康市第一人民医院",
            "injury_date": "2026-07-11",
            "temperature": 36.8,
            "weight_kg": 71.5,
        },
    }
    while len(orjson.dumps(event)) < size:
        event["data"]["diagnoses"].append(  # type: ignore[index]
            {"icd10": "S52.5", "text": "左桡骨远端骨折", "date": "2026-07-11", "grade": 10}
        )
    return orjson.dumps(event)


def test_valid_json_round_trips() -> None:
    data = sample_event()
    assert loads(data) == json.loads(data)
    assert loads(b' {"a": [1, 2.5, true, null, "x"]} ') == {"a": [1, 2.5, True, None, "x"]}
    assert loads(b'"\\ud83d\\ude00"') == "😀"  # a correct surrogate pair is fine


def test_body_too_large_is_413() -> None:
    with pytest.raises(BodyTooLargeError) as exc:
        loads(b"[" + b"1," * 100 + b"1]", max_bytes=100)
    assert exc.value.slug == "body-too-large" and exc.value.status == 413


@pytest.mark.parametrize(
    "data",
    [b'{"a": "\xff"}', b'{"a": "\xc3"}', b'{"a": "\xed\xa0\x80"}', b'"\xc0\xaf"'],
    ids=["ff", "truncated", "encoded-surrogate", "overlong"],
)
def test_invalid_utf8(data: bytes) -> None:
    with pytest.raises(InvalidUTF8Error) as exc:
        loads(data)
    assert exc.value.slug == "invalid-utf8" and exc.value.status == 400


def test_bom() -> None:
    with pytest.raises(ByteOrderMarkError) as exc:
        loads(b'\xef\xbb\xbf{"a": 1}')
    assert exc.value.slug == "byte-order-mark"


@pytest.mark.parametrize(
    "data",
    [
        b'"\\ud800"',
        b'"\\udc00"',
        b'{"\\uDBFF": 1}',
        b'["ok", {"k": "a\\ude00b"}]',
        b'"\\ud83d\\u0041"',
    ],
)
def test_lone_surrogate(data: bytes) -> None:
    with pytest.raises(LoneSurrogateError) as exc:
        loads(data)
    assert exc.value.slug == "lone-surrogate"


def test_escaped_backslash_is_not_a_surrogate() -> None:
    assert loads(b'"\\\\ud800"') == "\\ud800"


@pytest.mark.parametrize(
    "data", [b"NaN", b"[Infinity]", b'{"a": -Infinity}', b"[1e400]", b"-1e999"]
)
def test_non_finite(data: bytes) -> None:
    with pytest.raises(NonFiniteNumberError) as exc:
        loads(data)
    assert exc.value.slug == "non-finite-number"


def test_duplicate_key_names_the_object_not_the_value() -> None:
    with pytest.raises(DuplicateKeyError) as exc:
        loads(b'{"data": {"person": {"id": "330784199001011234", "id": "secret-value"}}}')
    assert exc.value.slug == "duplicate-key"
    assert exc.value.extra["pointer"] == "/data/person"
    assert "secret-value" not in exc.value.detail and "3307841990" not in exc.value.detail
    with pytest.raises(DuplicateKeyError) as top:
        loads(b'{"a": 1, "a": 1}')
    assert top.value.extra["pointer"] == ""
    with pytest.raises(DuplicateKeyError) as deep:
        loads(b'{"l": [0, {"a/b": {"x": 1, "x": 2}}]}')
    assert deep.value.extra["pointer"] == "/l/1/a~1b"


def test_depth() -> None:
    assert loads(b"[" * 32 + b"]" * 32) is not None
    with pytest.raises(TooDeepError) as exc:
        loads(b"[" * 33 + b"]" * 33)
    assert exc.value.slug == "too-deep"
    with pytest.raises(TooDeepError):
        loads(b'{"a":' * 40 + b"1" + b"}" * 40)
    with pytest.raises(TooDeepError):
        loads(b"[" * 200_000 + b"]" * 200_000, max_bytes=10_000_000)  # RecursionError path
    # exactly at the bound with many other containers (the walk runs, and must not refuse)
    at_bound = b"[" + b"[]," * 40 + b"[" * 31 + b"]" * 31 + b"]"
    assert loads(at_bound) is not None
    with pytest.raises(TooDeepError):
        loads(b"[" + b"[]," * 40 + b"[" * 32 + b"]" * 32 + b"]")
    assert loads(b"[" * 5 + b"]" * 5, max_depth=5) is not None
    with pytest.raises(TooDeepError):
        loads(b"[[],[],[],[],[],[[[[[[]]]]]]]", max_depth=5)
    # many containers side by side are not deep
    assert len(loads(b"[" + b",".join([b"[]"] * 100) + b"]")) == 100


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b'{"a" 1}', b"[1,]", b"{'a': 1}", b'"a\x01"', b"01", b"[1] [2]", b"tru"],
)
def test_invalid_json_has_line_and_column(data: bytes) -> None:
    with pytest.raises(StrictJSONError) as exc:
        loads(data)
    assert exc.value.slug == "invalid-json"
    assert "line" in exc.value.extra and "column" in exc.value.extra


def test_speed() -> None:
    """Budget: well under 50 µs for a 2 KB message (measured about 20 µs)."""
    data = sample_event(2048)
    assert 2000 <= len(data) <= 2300
    n = 2000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            loads(data)
        best = min(best, (time.perf_counter() - start) / n)
    print(f"strict_json.loads 2 KB: {best * 1e6:.1f} µs")
    assert best < 100e-6  # generous for slow CI machines; the target is < 50 µs
