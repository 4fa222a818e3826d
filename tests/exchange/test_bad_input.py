"""Bad input: a clear problem, a counter in the metrics, nothing stored or delivered."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.clock import ManualClock
from gateway.messages.jws import b64url_encode, sign_segments
from gateway.testing import GatewayHandle, running_gateway
from tests.exchange.conftest import DIAGNOSIS, example

HOSPITAL = "330784.health.h001"
PROBLEM = "urn:zj-exchange:problem:"
JOSE = "application/jose+json"


async def _post(
    gw: GatewayHandle, body: bytes, content_type: str = "application/jose+json"
) -> tuple[int, dict[str, Any]]:
    async with gw.session.post(
        f"{gw.base_url}/v1/messages", data=body, headers={"content-type": content_type}
    ) as response:
        assert response.content_type in ("application/problem+json", "application/json")
        return response.status, orjson.loads(await response.read())


async def _metric(gw: GatewayHandle, line_prefix: str) -> float:
    async with gw.session.get(f"{gw.base_url}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _nothing_stored(gw: GatewayHandle) -> None:
    stats = await gw.store.stats(gw.clock.now())
    assert sum(stats.pending_by_recipient.values()) == 0


@pytest.mark.parametrize(
    ("body", "slug", "status"),
    [
        (b"not json", "invalid-json", 400),
        (b'{"payload": "a", "payload": "b", "signatures": []}', "duplicate-key", 400),
        (b'{"payload": NaN}', "non-finite-number", 400),
        (b"\xff\xfe{}", "invalid-utf8", 400),
        (b"[" * 100 + b"]" * 100, "too-deep", 400),
    ],
)
async def test_strict_reader_refusals_reach_the_client_as_problems(
    tmp_path: Path, body: bytes, slug: str, status: int, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        got, problem = await _post(gw, body)
        assert (got, problem["type"]) == (status, PROBLEM + slug)
        assert problem["detail"] and problem["title"]
        assert await _metric(gw, f'zjx_messages_rejected_total{{reason="{slug}"}}') == 1
        await _nothing_stored(gw)


async def test_oversized_body_is_413(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        got, problem = await _post(gw, b" " * 2_000_000)
        assert got == 413
        assert problem["type"] == PROBLEM + "body-too-large"


async def test_wrong_media_type_is_415(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        got, problem = await _post(gw, b"{}", content_type="text/plain")
        assert got == 415
        assert problem["type"] == PROBLEM + "unsupported-media-type"


async def test_invalid_document_lists_pointers_without_values(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        document = copy.deepcopy(example("medical_diagnosis"))
        planted = "11010519491231002X"
        _set_first_id_number(document, planted[:-1] + "1")
        body = gw.client(HOSPITAL).sign(DIAGNOSIS, document, event_id="v-1")
        got, problem = await _post(gw, body)
        assert got == 422
        assert problem["type"] == PROBLEM + "invalid-document"
        assert problem["errors"] and all(
            e["pointer"].startswith("/data/") for e in problem["errors"]
        )
        assert planted[:-1] not in orjson.dumps(problem).decode()
        await _nothing_stored(gw)


async def test_clock_skew_is_refused(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        client = gw.client(HOSPITAL)
        late = gw.clock.now() - timedelta(hours=2)
        got, problem = await _post(
            gw, client.sign(DIAGNOSIS, example("medical_diagnosis"), time=late)
        )
        assert (got, problem["type"]) == (422, PROBLEM + "clock-skew")


async def test_a_late_duplicate_gets_its_original_receipt_not_clock_skew(
    tmp_path: Path, database: str | None
) -> None:
    clock = ManualClock(datetime.now(UTC))
    async with running_gateway(tmp_path, database=database, clock=clock) as gw:
        body = gw.client(HOSPITAL).sign(DIAGNOSIS, example("medical_diagnosis"), event_id="late")
        first = await gw.session.post(
            f"{gw.base_url}/v1/messages", data=body, headers={"content-type": JOSE}
        )
        receipt = await first.read()
        assert first.status == 202
        clock.advance(timedelta(minutes=7))  # past the 5 minute skew window
        again = await gw.session.post(
            f"{gw.base_url}/v1/messages", data=body, headers={"content-type": JOSE}
        )
        assert (again.status, await again.read()) == (202, receipt)
        assert again.headers["Idempotent-Replayed"] == "true"
        fresh = gw.client(HOSPITAL).sign(
            DIAGNOSIS,
            example("medical_diagnosis"),
            event_id="new",
            time=clock.now() - timedelta(minutes=7),
        )
        got, problem = await _post(gw, fresh)
        assert (got, problem["type"]) == (422, PROBLEM + "clock-skew")


async def test_same_id_different_payload_is_409(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        client = gw.client(HOSPITAL)
        first = example("medical_diagnosis")
        second = example("medical_diagnosis", 1)
        assert first != second
        await client.submit(DIAGNOSIS, first, event_id="same")
        got, problem = await _post(gw, client.sign(DIAGNOSIS, second, event_id="same"))
        assert (got, problem["type"]) == (409, PROBLEM + "id-reused")


async def test_unknown_route_is_a_problem(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        async with gw.session.get(f"{gw.base_url}/v2/nothing") as response:
            assert response.status == 404
            assert response.content_type == "application/problem+json"


def _set_first_id_number(document: Any, value: str) -> bool:
    """Replace the first resident ID number found anywhere in the document."""
    if isinstance(document, dict):
        for key, item in document.items():
            if key == "id_number" and isinstance(item, str):
                document[key] = value
                return True
            if _set_first_id_number(item, value):
                return True
    if isinstance(document, list):
        return any(_set_first_id_number(item, value) for item in document)
    return False


@pytest.mark.parametrize("subject", ["a\x00b", "line\nbreak", "x" * 129])
async def test_a_subject_that_is_not_a_plain_case_id_is_refused(
    tmp_path: Path, database: str | None, subject: str
) -> None:
    """Signed by its sender, but NUL, a line break or 129 characters is no case id; on
    PostgreSQL a NUL would otherwise reach a text column and come back as a 503."""
    async with running_gateway(tmp_path, database=database) as gw:
        key = gw.key(HOSPITAL)
        event = {
            "specversion": "1.0",
            "id": "odd-subject",
            "source": HOSPITAL,
            "type": DIAGNOSIS,
            "subject": subject,
            "time": gw.clock.now().isoformat(),
            "data": example("medical_diagnosis"),
        }
        payload_b64 = b64url_encode(orjson.dumps(event))
        signature = sign_segments({"alg": key.alg, "kid": key.kid}, payload_b64, key)
        got, problem = await _post(
            gw, orjson.dumps({"payload": payload_b64, "signatures": [signature]})
        )
        assert got == 400 and problem["errors"][0]["pointer"] == "/subject"
        await _nothing_stored(gw)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/cases/a%00b",
        "/v1/messages/a%00b",
        "/v1/messages/x?source=a%00b",
        "/v1/inbox?after=%01",
        "/admin/v1/cases/a%00b",
        "/admin/v1/dead-letters?recipient=a%00b",
    ],
)
async def test_control_characters_in_parameters_are_a_400(
    tmp_path: Path, database: str | None, path: str
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        token = (
            (gw.data_dir / "admin-token").read_text().strip()
            if path.startswith("/admin")
            else gw.client(HOSPITAL).token()
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with gw.session.get(f"{gw.base_url}{path}", headers=headers) as response:
            assert response.status == 400
            problem = orjson.loads(await response.read())
        assert problem["type"] == PROBLEM + "invalid-parameter"
        assert "\x00" not in problem["detail"]
        async with gw.session.get(f"{gw.base_url}/metrics") as response:
            assert 'status="4xx"' in await response.text()
