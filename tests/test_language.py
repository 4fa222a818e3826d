"""Accept-Language negotiation (RFC 9110 section 12.5.4, RFC 4647 basic filtering)."""

from __future__ import annotations

import pytest

from gateway.language import negotiate, parse


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh", "zh"),
        ("ZH-Hans-CN", "zh"),
        ("zh-TW", "zh"),
        ("en-GB,zh;q=0.5", "en"),
        ("en;q=0.3, zh;q=0.7", "zh"),
        ("fr, zh;q=0.2", "zh"),  # French is not offered; Chinese is acceptable
        ("fr, de", "en"),  # nothing offered is acceptable: the default
        ("zh;q=0, *", "en"),  # Chinese refused outright
        ("*", "en"),
        ("zhx, zh-;q=0.1", "en"),  # not a prefix ending at a hyphen: no match for zhx
        ("zh;q=1.5, en", "en"),  # an out-of-range weight makes that range malformed
        ("zh;q=abc", "en"),
        ("zh;level=1", "en"),  # a parameter other than q: malformed, ignored
        ("en;q=0.5, zh;q=0.5", "en"),  # equal weights: the earlier range
        ("zh," + "x" * 600, "en"),  # absurdly long: not parsed
    ],
)
def test_negotiate(header: str | None, chosen: str) -> None:
    assert negotiate(header) == chosen


def test_parse_takes_only_offered_languages() -> None:
    assert parse("zh") == "zh"
    assert parse("en") == "en"
    assert parse("zh-CN") is None
    assert parse(None) is None
