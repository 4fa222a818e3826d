"""Every validating pattern matches the whole string (issue 12).

Two nets. The static one reads every module of the gateway and the adapters: a regular
expression that is anchored with ``$`` (which also matches before a final newline) or used
through the prefix-matching ``match``/``re.match`` fails the test. The behavioural one gives
each validator of an identifier a valid value and then the same value with a newline or more
text after it, which must be refused.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.api.params import whole_number
from gateway.configuration.loader import DEPARTMENT_ID, DURATION, KEY_NAME, TYPE_NAME
from gateway.messages.event import EVENT_TYPE, parse_time
from gateway.messages.extensions import ATTRIBUTE_NAME
from gateway.messages.mediatype import parse_media_type
from gateway.problems import GatewayError
from gateway.trust.keys import KID
from gateway.validation import formats

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(REPO / "gateway").rglob("*.py"), *(REPO / "adapters").rglob("*.py")])
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$(?![^\[]*\])")


def _problems(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        where = f"{path.relative_to(REPO)}:{node.lineno}"
        receiver = node.func.value
        is_re = isinstance(receiver, ast.Name) and receiver.id in {"re", "regex"}
        if node.func.attr == "match" and (is_re or len(node.args) == 1):
            found.append(f"{where}: prefix match (use fullmatch)")
        if is_re and node.func.attr == "compile" and node.args:
            pattern = node.args[0]
            if isinstance(pattern, ast.Constant) and isinstance(pattern.value, str | bytes):
                text = pattern.value if isinstance(pattern.value, str) else pattern.value.decode()
                if _UNESCAPED_DOLLAR.search(text):
                    found.append(f"{where}: '$' anchor (matches before a newline; use \\Z)")
    return found


def test_the_static_net_catches_a_prefix_match(tmp_path: Path) -> None:
    bad = REPO / "gateway" / "_pattern_probe_.py"
    try:
        bad.write_text('import re\nX = re.compile(r"^[a-z]+$")\nok = X.match("a\\n")\n')
        assert len(_problems(bad)) == 2
    finally:
        bad.unlink()


def test_no_validating_pattern_matches_a_prefix() -> None:
    problems = [p for path in SOURCES for p in _problems(path)]
    assert problems == []


def _pattern(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: pattern.fullmatch(value) is not None


def _number(value: str) -> bool:
    try:
        whole_number(value, "n", "query")
    except GatewayError:
        return False
    return True


VALIDATORS: list[tuple[str, Callable[[str], bool], str]] = [
    ("department id", _pattern(DEPARTMENT_ID), "330784.health.h001"),
    ("document type", _pattern(TYPE_NAME), "cn.gov.zj.injury.medical_diagnosis.v1"),
    ("event type", _pattern(EVENT_TYPE), "cn.gov.zj.injury.medical_diagnosis.v1"),
    ("key name", _pattern(KEY_NAME), "2026-01"),
    ("key id", _pattern(KID), "330784.health.h001/2026-01"),
    ("duration", _pattern(DURATION), "30s"),
    ("attribute name", _pattern(ATTRIBUTE_NAME), "traceparent"),
    ("event time", lambda v: parse_time(v) is not None, "2026-07-24T17:30:00+08:00"),
    ("media type", lambda v: parse_media_type(v) is not None, "application/json"),
    ("whole number", _number, "42"),
    ("resident id", formats.is_resident_id, "11010519491231002X"),
    ("credit code", formats.is_uscc, "91330784MA2E0XXX0M"),
    ("region code", formats.is_gb2260, "330784"),
    ("ICD-10", formats.is_icd10, "S62.3"),
    ("money", formats.is_decimal_money, "21582.40"),
    ("date", formats.is_date, "2026-07-24"),
    ("date-time", formats.is_date_time, "2026-07-24T17:30:00+08:00"),
    ("phone", formats.is_phone_cn, "13812345678"),
]


@pytest.mark.parametrize(("name", "accepts", "valid"), VALIDATORS, ids=[v[0] for v in VALIDATORS])
@pytest.mark.parametrize("tail", ["\n", "\r\n", " x", "\x00"])
def test_a_valid_value_with_something_after_it_is_refused(
    name: str, accepts: Callable[[str], bool], valid: str, tail: str
) -> None:
    assert accepts(valid), f"{name}: the valid example is refused"
    assert not accepts(valid + tail), f"{name} accepts {valid + tail!r}"
