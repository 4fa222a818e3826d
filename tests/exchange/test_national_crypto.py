"""SM2 end to end, against a second implementation (GmSSL 3 through gmssl-pyx): a department
key made and used by GmSSL is registered through the admin API and its message accepted; a
tampered one is refused; the JWKS publishes SM2 keys; a gateway whose own key is SM2
countersigns, and its recipients verify that countersignature (with ours and with GmSSL)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gmssl_pyx
import orjson
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from adapters.link import GatewayClient
from gateway.clock import SystemClock
from gateway.messages import build_event, verify_all, verify_receipt
from gateway.messages.jws import b64url_decode, b64url_encode
from gateway.testing import default_config, running_gateway
from gateway.trust import KeyRecord, KeyRegistry, SigningKey, TokenVerifier, issue_token
from gateway.trust.sm2 import SM2Key
from tests.exchange.conftest import DIAGNOSIS, example
from tests.trust.test_sm2 import gmssl_verify

HOSPITAL = "330784.health.h001"
MEDINSURANCE = "330784.medinsurance"
PROBLEM = "urn:zj-exchange:problem:"


def _gmssl_key() -> tuple[bytes, bytes, dict[str, str]]:
    """A key pair GmSSL made: (d, x || y, public JWK)."""
    public, private = gmssl_pyx.sm2_key_generate()
    jwk = {
        "kty": "EC",
        "crv": "SM2",
        "x": b64url_encode(public[:32]),
        "y": b64url_encode(public[32:]),
    }
    return private, public, jwk


def _gmssl_signed_message(d: bytes, public: bytes, kid: str, payload: bytes) -> dict[str, Any]:
    """A General JSON JWS whose signature GmSSL computed (DER turned into r || s)."""
    protected = b64url_encode(orjson.dumps({"alg": "SM2", "kid": kid}))
    payload_b64 = b64url_encode(payload)
    der = gmssl_pyx.sm2_sign(d, public, f"{protected}.{payload_b64}".encode("ascii"))
    r, s = decode_dss_signature(der)
    signature = b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return {
        "payload": payload_b64,
        "signatures": [{"protected": protected, "signature": signature}],
    }


def _gmssl_verifies(jwk: dict[str, Any], payload_b64: str, sig: dict[str, str]) -> bool:
    signing_input = f"{sig['protected']}.{payload_b64}".encode("ascii")
    return gmssl_verify(jwk, signing_input, b64url_decode(sig["signature"], "/"))


async def test_sm2_department_and_sm2_gateway_end_to_end(
    tmp_path: Path, database: str | None
) -> None:
    gateway_key = SigningKey.generate("330000.exchange/gm-2026", "SM2")
    gateway_key.save(tmp_path / "gateway.jwk")
    config = default_config()
    config = dataclasses.replace(
        config, gateway=dataclasses.replace(config.gateway, key_file=tmp_path / "gateway.jwk")
    )
    d, public, jwk = _gmssl_key()
    async with running_gateway(tmp_path / "data", config=config, database=database) as gw:
        admin = {"Authorization": f"Bearer {(gw.data_dir / 'admin-token').read_text().strip()}"}
        async with gw.session.post(
            f"{gw.base_url}/admin/v1/departments/{HOSPITAL}/keys",
            json={"name": "gm1", "jwk": jwk},
            headers=admin,
        ) as response:
            assert response.status == 201, await response.text()
        payload = build_event(
            source=HOSPITAL,
            type=DIAGNOSIS,
            data=example("medical_diagnosis"),
            id="sm2-1",
            time=gw.clock.now(),
        )
        message = _gmssl_signed_message(d, public, f"{HOSPITAL}/gm1", payload)

        tampered = dict(message, payload=b64url_encode(payload.replace(b"sm2-1", b"sm2-2")))
        async with gw.session.post(
            f"{gw.base_url}/v1/messages",
            data=orjson.dumps(tampered),
            headers={"content-type": "application/jose+json"},
        ) as response:
            problem = await response.json(content_type=None)
            assert (response.status, problem["type"]) == (401, PROBLEM + "bad-signature")

        receipt = await gw.client(HOSPITAL).submit_signed(orjson.dumps(message))
        assert receipt["id"] == "sm2-1" and MEDINSURANCE in receipt["recipients"]

        jwks = await gw.client(HOSPITAL).jwks()
        published = {k["kid"]: k for k in jwks["keys"]}
        assert published[f"{HOSPITAL}/gm1"]["crv"] == "SM2"
        mine = gateway_key.public_jwk()
        assert {k: published[gateway_key.kid][k] for k in mine} == mine
        registry = KeyRegistry.from_jwks(jwks)
        verify_receipt(orjson.dumps(receipt), payload, registry, gateway_id=gw.gateway_id)

        page = await gw.client(MEDINSURANCE).inbox()
        body = orjson.dumps(page["messages"][0]["message"])
        verified = verify_all(body, registry, datetime.now(UTC), gateway_id=gw.gateway_id)
        assert (verified.origin, verified.seq) == (HOSPITAL, receipt["sequence"])
        delivered = orjson.loads(body)
        origin_sig, gateway_sig = delivered["signatures"]
        assert orjson.loads(b64url_decode(gateway_sig["protected"], "/"))["alg"] == "SM2"
        # the other implementation checks both signatures of what the recipient got
        assert _gmssl_verifies(jwk, delivered["payload"], origin_sig)
        gateway_jwk = gateway_key.public_jwk()
        assert _gmssl_verifies(gateway_jwk, delivered["payload"], gateway_sig)
        broken = dict(gateway_sig, signature=origin_sig["signature"])
        assert not _gmssl_verifies(gateway_jwk, delivered["payload"], broken)


async def test_the_adapters_client_signs_and_authenticates_with_sm2(
    tmp_path: Path, database: str | None
) -> None:
    key = SigningKey.generate(f"{HOSPITAL}/gm2", "SM2")
    async with running_gateway(tmp_path, database=database) as gw:
        admin = {"Authorization": f"Bearer {(gw.data_dir / 'admin-token').read_text().strip()}"}
        async with gw.session.post(
            f"{gw.base_url}/admin/v1/departments/{HOSPITAL}/keys",
            json={"name": "gm2", "jwk": key.public_jwk()},
            headers=admin,
        ) as response:
            assert response.status == 201
        client = GatewayClient(
            gw.base_url, HOSPITAL, key, gw.gateway_id, gw.session, clock=gw.clock
        )
        receipt = await client.submit(DIAGNOSIS, example("medical_diagnosis"), event_id="gm2-1")
        status = await client.status("gm2-1")  # a department token signed with SM2
        assert status["id"] == "gm2-1" and receipt["sequence"] == status["sequence"]
        jwks = await client.jwks()
        assert {"kid": key.kid, "crv": "SM2", "alg": "SM2"}.items() <= next(
            k for k in jwks["keys"] if k["kid"] == key.kid
        ).items()


def test_a_der_signature_is_not_an_sm2_jws_signature() -> None:
    """The JWS form is r || s (DESIGN 3): the DER form GmSSL returns is refused."""
    d, public, jwk = _gmssl_key()
    der = gmssl_pyx.sm2_sign(d, public, b"x")
    r, s = decode_dss_signature(der)
    key = SM2Key.import_key(jwk)
    assert not key.verify(b"x", der)
    assert key.verify(b"x", r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def test_department_token_signed_with_sm2_is_accepted() -> None:
    key = SigningKey.generate(f"{HOSPITAL}/t1", "SM2")
    record = KeyRecord(key.kid, HOSPITAL, key.public_jwk(), datetime(2020, 1, 1, tzinfo=UTC))
    clock = SystemClock()
    verifier = TokenVerifier(KeyRegistry([record]), "330000.exchange", clock)
    assert verifier.verify(issue_token(key, "330000.exchange", clock=clock)) == HOSPITAL
