"""Planted personal data never reaches a log line."""

from __future__ import annotations

import copy
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from gateway.logs import configure_logging
from gateway.masking import mask_text
from gateway.testing import running_gateway
from tests.exchange.conftest import DIAGNOSIS, example

ID_NUMBER = "11010519491231002X"
NAME = "张三"
PHONE = "13800138000"
ACCOUNT = "6222020200112233445"
PLANTED = (ID_NUMBER, NAME, PHONE, ACCOUNT, "S62.6", "粉碎性骨折")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(logging.DEBUG, stream)
    yield stream
    structlog.reset_defaults()


def _assert_clean(text: str) -> None:
    assert text.strip(), "nothing was logged: the test would prove nothing"
    for value in PLANTED:
        assert value not in text, f"{value!r} leaked into the log"


def test_log_calls_by_key_and_by_shape(captured: io.StringIO) -> None:
    log = structlog.get_logger("test")
    log.info(
        "submitted",
        name=NAME,
        applicant_name=NAME,
        diagnosis="S62.6 粉碎性骨折",
        patient={"name": NAME, "id_number": ID_NUMBER, "phone": PHONE},
    )
    log.warning(f"free text with {ID_NUMBER}, {PHONE} and account {ACCOUNT}")
    log.info("nested", items=[{"payee_name": NAME, "note": f"acct {ACCOUNT}"}])
    _assert_clean(captured.getvalue())
    assert "110**************X" in captured.getvalue()


def test_exception_text_is_masked(captured: io.StringIO) -> None:
    log = structlog.get_logger("test")
    try:
        raise ValueError(f"bad id {ID_NUMBER} for phone {PHONE}, account {ACCOUNT}")
    except ValueError:
        log.exception("failed")
    text = captured.getvalue()
    assert "ValueError" in text
    _assert_clean(text)


async def test_a_request_that_fails_validation_leaks_nothing(
    tmp_path: Path, captured: io.StringIO, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        document = copy.deepcopy(example("medical_diagnosis"))
        document["patient"]["name"] = NAME
        document["patient"]["id_number"] = ID_NUMBER[:-1] + "1"  # wrong check character
        document["patient"]["phone"] = PHONE
        # an ID number as the event id is refused before this (tests/messages/test_event.py)
        body = gw.client("330784.health.h001").sign(DIAGNOSIS, document, event_id="planted-1")
        async with gw.session.post(
            f"{gw.base_url}/v1/messages",
            data=body,
            headers={"content-type": "application/jose+json", "X-Request-Id": "planted-test"},
        ) as response:
            assert response.status == 422
    text = captured.getvalue()
    assert "planted-test" in text
    for value in (ID_NUMBER, ID_NUMBER[:-1], NAME, PHONE):
        assert value not in text


def test_mask_text_shapes() -> None:
    assert mask_text(ID_NUMBER) == "110" + "*" * 14 + "X"
    assert mask_text(PHONE) == "138******00"
    assert mask_text(ACCOUNT) == "****3445"


def test_key_rules_cover_prefixes_and_camel_case(captured: io.StringIO) -> None:
    structlog.get_logger("test").info(
        "keys",
        applicantName=NAME,
        payee=NAME,
        diagnosis_code="S62.6",
        diagnosisText="粉碎性骨折",
        icd10="S62.6",
        icd10_codes=["S62.6"],
        hostname="gw-1",
        type_="cn.gov.zj.injury.medical_diagnosis.v1",
    )
    text = captured.getvalue()
    _assert_clean(text)
    assert "gw-1" in text and "medical_diagnosis" in text


def test_standard_library_records_are_masked(
    captured: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        configure_logging(logging.DEBUG, captured)
        std = logging.getLogger("aiohttp.server")
        std.warning("bad request from %s with %s", PHONE, ID_NUMBER)
        try:
            raise RuntimeError(f"account {ACCOUNT}")
        except RuntimeError:
            std.exception("handler failed")
        assert isinstance(handler.stream, io.StringIO)
        text = handler.stream.getvalue()
    finally:
        root.removeHandler(handler)
    assert "RuntimeError" in text
    for value in (ID_NUMBER, PHONE, ACCOUNT):
        assert value not in text


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("request_id", "trace-2026113004521234"),
        ("message_id", "330784.health.h001/2026113004521234"),
        ("case_id", "GS-330784-2026-000123"),
        ("sha256", "e3b0c44298fc1c149afbf4c8996fb924270000123456789012345678991b7852b8"),
        ("sequence", 1234567890123456),
        ("kid", "330784.health.h001/2026-01"),
    ],
)
def test_identifiers_are_never_altered(captured: io.StringIO, key: str, value: object) -> None:
    structlog.get_logger("test").info("ids", **{key: value})
    assert str(value) in captured.getvalue()


def test_digits_inside_a_longer_token_are_not_an_account() -> None:
    digest = "ab1234567890123456cd"
    assert mask_text(f"digest {digest}") == f"digest {digest}"
    assert mask_text(f"acct {ACCOUNT}.") == "acct ****3445."


async def test_a_request_id_is_logged_as_given_unless_it_is_personal(
    tmp_path: Path, captured: io.StringIO, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        for given in ("trace-2026113004521234", f"id-{ID_NUMBER}"):
            async with gw.session.get(
                f"{gw.base_url}/healthz", headers={"X-Request-Id": given}
            ) as response:
                answered = response.headers["X-Request-Id"]
            assert (answered == given) == (given == "trace-2026113004521234")
            assert f'"request_id": "{answered}"' in captured.getvalue().replace('":"', '": "')
    assert ID_NUMBER not in captured.getvalue()
