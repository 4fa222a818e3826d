"""Push recipients get signed, short-lived links; the receiving adapter base downloads each
attachment through its link and verifies the digest before the delivery is acknowledged."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web

from adapters.link import Delivered, Receiver
from adapters.link.files import receive_attachments, upload
from gateway.attachments.links import sign_link, verify_link
from gateway.problems import AuthError
from gateway.testing import default_config, running_gateway
from gateway.trust import SigningKey
from tests.attachments.conftest import pdf_bytes, write
from tests.attachments.test_exchange import HOSPITAL, IMAGING, MARKET, RECOGNITION, _report
from tests.exchange.conftest import serve


async def test_push_carries_signed_links_and_the_receiver_verifies_the_bytes(
    tmp_path: Path, database: str | None
) -> None:
    data = pdf_bytes(extra=b"pushed" * 10_000)
    saved: list[Path] = []
    links: list[str] = []
    done = asyncio.Event()
    box: dict[str, Receiver] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        return await box["r"].handle(request)

    app = web.Application()
    app.router.add_post("/inbound", handler)
    async with aiohttp.ClientSession() as session, serve(app) as receiver_url:
        config = default_config(push={RECOGNITION: f"{receiver_url}/inbound"})
        async with running_gateway(tmp_path, config=config, database=database) as gw:
            recognition = gw.client(RECOGNITION)

            async def on_delivery(delivered: Delivered) -> None:
                links.extend(delivered.links)
                saved.extend(await receive_attachments(recognition, delivered, tmp_path / "in"))
                done.set()

            box["r"] = Receiver(
                RECOGNITION,
                gw.key(RECOGNITION),
                f"{gw.base_url}/.well-known/jwks.json",
                session,
                on_delivery,
                gw.gateway_id,
            )
            ref = await upload(gw.client(HOSPITAL), write(tmp_path, "p.pdf", data))
            await gw.client(HOSPITAL).submit(IMAGING, _report(ref), event_id="push-1")
            await asyncio.wait_for(done.wait(), 10)
            assert [p.read_bytes() for p in saved] == [data]
            [link] = links
            assert link.startswith(f"/v1/attachments/{ref['digest']}?link=")
            # the link is for that digest only, without any token
            token = parse_qs(urlsplit(link).query)["link"][0]
            other = hashlib.sha256(b"other").hexdigest()
            async with gw.session.get(f"{gw.base_url}/v1/attachments/{other}?link={token}") as r:
                assert (r.status, (await r.json())["type"]) == (
                    401,
                    "urn:zj-exchange:problem:token-invalid",
                )
            async with gw.session.get(f"{gw.base_url}{link}") as r:
                assert r.status == 200 and await r.read() == data


@pytest.mark.parametrize("alg", ["Ed25519", "SM2"])
def test_a_link_names_its_recipient_and_expires(alg: str) -> None:
    """With the gateway's key of either kind: SM2 (issue 17) signs links as Ed25519 does."""
    key = SigningKey.generate("330000.exchange/k1", alg)  # type: ignore[arg-type]
    now = datetime(2026, 7, 11, tzinfo=UTC)
    digest = "ab" * 32
    link = sign_link(key, digest, MARKET, now + timedelta(seconds=300))
    token = parse_qs(urlsplit(link).query)["link"][0]
    assert verify_link(token, key, digest, now) == MARKET
    with pytest.raises(AuthError) as expired:
        verify_link(token, key, digest, now + timedelta(seconds=301))
    assert expired.value.slug == "token-expired"
    other_key = SigningKey.generate("330000.exchange/k2", alg)  # type: ignore[arg-type]
    with pytest.raises(AuthError) as foreign:
        verify_link(token, other_key, digest, now)
    assert foreign.value.slug == "token-invalid"
    with pytest.raises(AuthError) as elsewhere:  # a link for one file opens no other
        verify_link(token, key, "cd" * 32, now)
    assert elsewhere.value.slug == "token-invalid"
