"""Types decided by bytes and the content rules of each type (gateway/attachments)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.attachments import content, media
from tests.attachments.conftest import ofd_bytes, pdf_bytes, png_bytes, write


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"PK\x03\x04\x14\x00", "application/ofd"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
        (b"II*\x00\x08\x00", "image/tiff"),
        (b"MM\x00*\x00\x00", "image/tiff"),
        (b"<html><script>", None),
        (b"MZ\x90\x00", None),
        (b"", None),
    ],
)
def test_type_is_decided_by_the_leading_bytes(head: bytes, expected: str | None) -> None:
    assert media.sniff(head) == expected


def test_every_allowed_type_names_its_standard() -> None:
    assert set(media.allowed_names()) == {
        "application/pdf",
        "application/ofd",
        "image/jpeg",
        "image/png",
        "image/tiff",
    }
    assert all(t.source for t in media.allowed())


def test_clean_files_pass(tmp_path: Path) -> None:
    content.check(write(tmp_path, "a.pdf", pdf_bytes()), "application/pdf")
    content.check(write(tmp_path, "a.png", png_bytes()), "image/png")
    content.check(write(tmp_path, "a.ofd", ofd_bytes()), "application/ofd")


@pytest.mark.parametrize(
    ("hostile", "rule"),
    [
        ("javascript", "pdf-javascript"),
        ("launch", "pdf-launch-action"),
        ("embedded", "pdf-embedded-file"),
    ],
)
def test_hostile_pdfs_are_refused_by_rule(tmp_path: Path, hostile: str, rule: str) -> None:
    path = write(tmp_path, "h.pdf", pdf_bytes(hostile=hostile))
    with pytest.raises(content.ContentRefused) as caught:
        content.check(path, "application/pdf")
    assert caught.value.rule == rule


@pytest.mark.parametrize(
    ("data", "media_type", "rule"),
    [
        (b"%PDF-1.7\ngarbage", "application/pdf", "pdf-unreadable"),
        (b"PK\x03\x04 not a zip", "application/ofd", "ofd-malformed"),
        (ofd_bytes("<not-ofd/>"), "application/ofd", "ofd-malformed"),
        (
            ofd_bytes("<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'>"),
            "application/ofd",
            "ofd-malformed",
        ),
        (png_bytes()[:30], "image/png", "image-undecodable"),
    ],
)
def test_malformed_files_are_refused_by_rule(
    tmp_path: Path, data: bytes, media_type: str, rule: str
) -> None:
    with pytest.raises(content.ContentRefused) as caught:
        content.check(write(tmp_path, "f", data), media_type)
    assert caught.value.rule == rule
