"""Whole-number parameters: Unicode digits, negative and 64-bit-overflowing numbers are a 400
naming the parameter, on every route that takes one and on both stores."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.api.params import MAX_SEQUENCE, whole_number
from gateway.problems import MessageError
from gateway.testing import running_gateway

HOSPITAL = "330784.health.h001"
TOO_BIG = str(MAX_SEQUENCE + 1)


@pytest.mark.parametrize("raw", ["", "-1", "²", "١", "1.5", " 1", TOO_BIG, "9" * 40])
def test_refused(raw: str) -> None:
    with pytest.raises(MessageError) as caught:
        whole_number(raw, "after", "query")
    assert caught.value.slug == "invalid-parameter"
    assert caught.value.violations[0].pointer == "/query/after"


def test_bounds() -> None:
    assert whole_number(str(MAX_SEQUENCE), "after", "query") == MAX_SEQUENCE
    assert whole_number("0", "after", "query") == 0
    with pytest.raises(MessageError):
        whole_number("0", "limit", "query", minimum=1)


@pytest.mark.parametrize(
    ("method", "path", "admin", "headers"),
    [
        ("GET", f"/v1/inbox?after={TOO_BIG}", False, {}),
        ("GET", "/v1/inbox?after=%C2%B2", False, {}),
        ("GET", "/v1/inbox/stream", False, {"Last-Event-ID": TOO_BIG}),
        ("GET", f"/admin/v1/audit?after={TOO_BIG}", True, {}),
        ("GET", "/admin/v1/audit?limit=0", True, {}),
        ("POST", f"/admin/v1/dead-letters/{TOO_BIG}/330784.zlb/replay", True, {}),
        ("POST", f"/admin/v1/dead-letters/{TOO_BIG}/330784.zlb/discard", True, {}),
    ],
)
async def test_routes_answer_400(
    tmp_path: Path,
    database: str | None,
    method: str,
    path: str,
    admin: bool,
    headers: dict[str, str],
) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        token = (
            (gw.data_dir / "admin-token").read_text().strip()
            if admin
            else gw.client(HOSPITAL).token()
        )
        headers = {**headers, "Authorization": f"Bearer {token}"}
        async with gw.session.request(method, gw.base_url + path, headers=headers) as response:
            assert response.status == 400
            problem = orjson.loads(await response.read())
        assert problem["type"] == "urn:zj-exchange:problem:invalid-parameter"
        assert TOO_BIG not in problem["detail"]  # the value is not echoed
