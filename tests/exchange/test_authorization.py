"""A department cannot read another's inbox or another sender's message status, cannot submit
a type it may not send, and cannot submit a message whose source is another department."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from adapters.link import SubmitError
from gateway.messages.event import build_event
from gateway.messages.jws import b64url_encode, sign_segments
from gateway.testing import running_gateway
from gateway.trust import issue_token
from tests.exchange.conftest import DIAGNOSIS, example

HOSPITAL = "330784.health.h001"
MARKET = "330784.market"
ASSESSMENT = "330700.hrss.assessment"
PROBLEM = "urn:zj-exchange:problem:"


async def test_cannot_submit_a_type_it_may_not_send(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        with pytest.raises(SubmitError) as caught:
            await gw.client(MARKET).submit(DIAGNOSIS, example("medical_diagnosis"))
        assert caught.value.status == 403
        assert caught.value.problem["type"] == PROBLEM + "type-not-allowed"
        assert await gw.store.find_message(MARKET, "x") is None


async def test_cannot_submit_as_another_department(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        payload = build_event(
            source=HOSPITAL,
            type=DIAGNOSIS,
            data=example("medical_diagnosis"),
            id="forged",
            time=gw.clock.now(),
        )
        market = gw.key(MARKET)  # market's key, hospital's source
        payload_b64 = b64url_encode(payload)
        signature = sign_segments({"alg": market.alg, "kid": market.kid}, payload_b64, market)
        body = orjson.dumps({"payload": payload_b64, "signatures": [signature]})
        with pytest.raises(SubmitError) as caught:
            await gw.client(MARKET).submit_signed(body)
        assert caught.value.status == 403
        assert caught.value.problem["type"] == PROBLEM + "source-mismatch"
        assert await gw.store.find_message(HOSPITAL, "forged") is None


async def test_cannot_read_another_senders_status(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"), event_id="s-1")
        # a recipient sees its own delivery
        own = await gw.client(ASSESSMENT).status("s-1", source=HOSPITAL)
        assert [d["recipient"] for d in own["deliveries"]] == [ASSESSMENT]
        # a department that is neither sender nor recipient gets 404, not 403
        with pytest.raises(SubmitError) as caught:
            await gw.client(MARKET).status("s-1", source=HOSPITAL)
        assert caught.value.status == 404


async def test_cannot_read_another_inbox(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"), event_id="i-1")
        # market signs a token claiming to be the assessment committee
        now = gw.clock.now()
        token = issue_token(gw.key(MARKET), gw.gateway_id, now=now)
        header, claims, _ = token.split(".")
        forged_claims = orjson.loads(_b64d(claims))
        forged_claims["iss"] = ASSESSMENT
        forged = ".".join([header, _b64e(orjson.dumps(forged_claims)), token.split(".")[2]])
        async with gw.session.get(
            f"{gw.base_url}/v1/inbox", headers={"Authorization": f"Bearer {forged}"}
        ) as response:
            assert response.status == 401
            problem = await response.json(content_type=None)
            assert problem["type"].startswith(PROBLEM + "token")
        # market's own inbox is empty: it is not a recipient
        page = await gw.client(MARKET).inbox()
        assert page["messages"] == []


@pytest.mark.parametrize("jti", [None, "a\x00b\u2028"], ids=["uuid", "control-characters"])
async def test_token_is_single_use(tmp_path: Path, database: str | None, jti: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        token = issue_token(gw.key(ASSESSMENT), gw.gateway_id, now=gw.clock.now(), jti=jti)
        headers = {"Authorization": f"Bearer {token}"}
        async with gw.session.get(f"{gw.base_url}/v1/inbox", headers=headers) as response:
            assert response.status == 200
        async with gw.session.get(f"{gw.base_url}/v1/inbox", headers=headers) as response:
            assert response.status == 401
            assert (await response.json(content_type=None))["type"] == PROBLEM + "token-replayed"


async def test_no_token_is_a_problem_not_a_crash(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        async with gw.session.get(f"{gw.base_url}/v1/inbox") as response:
            assert response.status == 401
            assert response.content_type == "application/problem+json"


def _b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64e(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


async def test_a_token_used_on_one_instance_is_refused_on_another(
    tmp_path: Path, pg_url: str
) -> None:
    """Several instances on one PostgreSQL database: single use holds across them."""
    async with (
        running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as one,
        running_gateway(tmp_path, database=pg_url, run_dispatcher=False) as two,
    ):
        token = one.client(HOSPITAL).token()
        headers = {"Authorization": f"Bearer {token}"}
        async with one.session.get(f"{one.base_url}/v1/inbox", headers=headers) as first:
            assert first.status == 200
        async with two.session.get(f"{two.base_url}/v1/inbox", headers=headers) as again:
            assert again.status == 401
            problem = await again.json(content_type=None)
        assert problem["type"].endswith("token-replayed")
