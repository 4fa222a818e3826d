"""Signed messages: parse, verify, countersign, receipts; interop with jwcrypto/cryptography."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from gateway.messages import (
    SignedMessage,
    build_event,
    countersign,
    make_receipt,
    sign_message,
    verify_all,
    verify_receipt,
)
from gateway.problems import (
    AlgorithmRefusedError,
    CriticalHeaderError,
    DuplicateKeyError,
    EnvelopeError,
    KeyExpiredError,
    KeyRevokedError,
    MessageError,
    SignatureError,
    SourceMismatchError,
    UnknownKeyError,
)
from gateway.trust import KeyRecord, KeyRegistry, SigningKey

from .conftest import GATEWAY, HOSPITAL, NOW, POLICE, record


def public(key: jc_jwk.JWK) -> dict[str, Any]:
    """jwcrypto's public JWK without its thumbprint kid (the registry's kid is ours)."""
    jwk: dict[str, Any] = key.export_public(as_dict=True)
    jwk.pop("kid", None)
    return jwk


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assemble(payload: bytes, protected: dict[str, Any], sign: Any) -> bytes:
    """A general JWS built by hand; ``sign`` gets the signing input."""
    p64, h64 = b64(payload), b64(orjson.dumps(protected))
    sig = sign(f"{h64}.{p64}".encode())
    return orjson.dumps({"payload": p64, "signatures": [{"protected": h64, "signature": b64(sig)}]})


def accept(
    body: bytes, registry: KeyRegistry, gateway_key: SigningKey
) -> tuple[SignedMessage, bytes, dict[str, Any]]:
    msg = SignedMessage.parse(body)
    msg.verify_origin(registry, NOW)
    out, gw = countersign(msg, gateway_key, GATEWAY, NOW, 42, ["330784.hrss.recognition"])
    return msg, out, gw


# --- round trip ---------------------------------------------------------------------------


def test_sign_parse_verify_round_trip(
    payload: bytes, hospital_key: SigningKey, registry: KeyRegistry
) -> None:
    body = sign_message(payload, hospital_key)
    msg = SignedMessage.parse(body)
    assert msg.payload == payload and msg.event.raw == payload
    assert msg.payload_b64 == orjson.loads(body)["payload"]
    assert msg.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert msg.origin.kid == hospital_key.kid and msg.origin.alg == "Ed25519"
    assert msg.verify_origin(registry, NOW) == HOSPITAL


def test_es256_end_to_end(
    registry: KeyRegistry, police_key: SigningKey, gateway_key: SigningKey
) -> None:
    payload = build_event(
        source=POLICE, type="cn.gov.zj.injury.traffic_accident_determination.v1", data={"x": 1}
    )
    body = sign_message(payload, police_key)
    msg, out, _ = accept(body, registry, gateway_key)
    assert msg.origin.alg == "ES256"
    v = verify_all(out, registry, NOW, gateway_id=GATEWAY)
    assert v.origin == POLICE
    es_gateway = SigningKey.generate(f"{GATEWAY}/gw-es", "ES256")
    registry.add(record(es_gateway))
    out2, gw2 = countersign(msg, es_gateway, GATEWAY, NOW, 43, [])
    assert verify_all(out2, registry, NOW, gateway_id=GATEWAY).seq == 43
    assert verify_receipt(make_receipt(msg, gw2), payload, registry).sequence == 43


# --- interop ------------------------------------------------------------------------------


def test_project_signature_verifies_with_jwcrypto(
    payload: bytes, hospital_key: SigningKey, police_key: SigningKey
) -> None:
    for key, ev_payload in (
        (hospital_key, payload),
        (police_key, build_event(source=POLICE, type="cn.gov.zj.injury.x.v1", data={})),
    ):
        body = sign_message(ev_payload, key)
        token = jc_jws.JWS()
        token.deserialize(body.decode())
        token.allowed_algs = ["Ed25519", "ES256"]  # jwcrypto 1.6 knows the RFC 9864 name
        token.verify(jc_jwk.JWK(**key.public_jwk()))
        assert token.payload == ev_payload


def test_countersigned_message_verifies_with_jwcrypto(
    payload: bytes, hospital_key: SigningKey, gateway_key: SigningKey, registry: KeyRegistry
) -> None:
    _, out, _ = accept(sign_message(payload, hospital_key), registry, gateway_key)
    for key in (hospital_key, gateway_key):
        token = jc_jws.JWS()
        token.deserialize(out.decode())
        token.allowed_algs = ["Ed25519"]
        token.verify(jc_jwk.JWK(**key.public_jwk()))  # any signature verifying with this key


def test_independent_eddsa_signature_verifies(payload: bytes, registry: KeyRegistry) -> None:
    """Signed with ``cryptography`` directly, with the older alg name "EdDSA"."""
    private = Ed25519PrivateKey.generate()
    key = jc_jwk.JWK.from_pyca(private.public_key())
    kid = f"{HOSPITAL}/independent"
    registry.add(KeyRecord(kid, HOSPITAL, public(key), NOW - timedelta(days=1)))
    body = assemble(payload, {"alg": "EdDSA", "kid": kid}, private.sign)
    msg = SignedMessage.parse(body)
    assert msg.origin.alg == "Ed25519"
    assert msg.verify_origin(registry, NOW) == HOSPITAL


def test_independent_jwcrypto_signatures_verify(payload: bytes, registry: KeyRegistry) -> None:
    for alg, gen in (
        ("EdDSA", {"kty": "OKP", "crv": "Ed25519"}),
        ("ES256", {"kty": "EC", "crv": "P-256"}),
    ):
        key = jc_jwk.JWK.generate(**gen)
        kid = f"{HOSPITAL}/jwcrypto-{alg.lower()}"
        registry.add(KeyRecord(kid, HOSPITAL, public(key), NOW - timedelta(days=1)))
        token = jc_jws.JWS(payload)
        token.add_signature(key, None, orjson.dumps({"alg": alg, "kid": kid}).decode())
        flat = orjson.loads(token.serialize())  # jwcrypto flattens a single signature
        assert set(flat) == {"payload", "protected", "signature"}
        body = orjson.dumps(
            {
                "payload": flat["payload"],
                "signatures": [{"protected": flat["protected"], "signature": flat["signature"]}],
            }
        )
        assert SignedMessage.parse(body).verify_origin(registry, NOW) == HOSPITAL


def test_independent_es256_with_cryptography(payload: bytes, registry: KeyRegistry) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = f"{HOSPITAL}/pyca-es256"
    registry.add(
        KeyRecord(
            kid,
            HOSPITAL,
            public(jc_jwk.JWK.from_pyca(private.public_key())),
            NOW - timedelta(days=1),
        )
    )

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    body = assemble(payload, {"alg": "ES256", "kid": kid}, sign)
    assert SignedMessage.parse(body).verify_origin(registry, NOW) == HOSPITAL


# --- refusals -----------------------------------------------------------------------------


def test_tampered_payload(payload: bytes, hospital_key: SigningKey, registry: KeyRegistry) -> None:
    doc = orjson.loads(sign_message(payload, hospital_key))
    doc["payload"] = b64(payload.replace(b"S52.5", b"S52.6"))
    with pytest.raises(SignatureError) as exc:
        SignedMessage.parse(orjson.dumps(doc)).verify_origin(registry, NOW)
    assert exc.value.slug == "bad-signature"


def test_tampered_protected_header(
    payload: bytes, hospital_key: SigningKey, registry: KeyRegistry
) -> None:
    doc = orjson.loads(sign_message(payload, hospital_key))
    header = orjson.loads(base64.urlsafe_b64decode(doc["signatures"][0]["protected"] + "=="))
    header["typ"] = "x"
    doc["signatures"][0]["protected"] = b64(orjson.dumps(header))
    with pytest.raises(SignatureError) as exc:
        SignedMessage.parse(orjson.dumps(doc)).verify_origin(registry, NOW)
    assert exc.value.slug == "bad-signature"


def test_wrong_key(payload: bytes, registry: KeyRegistry) -> None:
    impostor = SigningKey.generate(f"{HOSPITAL}/2026-01")  # same kid, another private key
    with pytest.raises(SignatureError) as exc:
        SignedMessage.parse(sign_message(payload, impostor)).verify_origin(registry, NOW)
    assert exc.value.slug == "bad-signature"


def test_another_departments_kid(
    payload: bytes, police_key: SigningKey, registry: KeyRegistry
) -> None:
    body = assemble(payload, {"alg": "ES256", "kid": police_key.kid}, lambda d: b"\0" * 64)
    with pytest.raises(SourceMismatchError) as exc:
        SignedMessage.parse(body).verify_origin(registry, NOW)
    assert exc.value.slug == "source-mismatch" and exc.value.status == 403
    with pytest.raises(SourceMismatchError):
        sign_message(payload, police_key)


def test_unknown_kid(payload: bytes, registry: KeyRegistry) -> None:
    stranger = SigningKey.generate(f"{HOSPITAL}/never-registered")
    with pytest.raises(UnknownKeyError) as exc:
        SignedMessage.parse(sign_message(payload, stranger)).verify_origin(registry, NOW)
    assert exc.value.slug == "unknown-key"
    body = assemble(payload, {"alg": "Ed25519", "kid": "no-slash"}, lambda d: b"\0" * 64)
    with pytest.raises(UnknownKeyError):
        SignedMessage.parse(body).verify_origin(registry, NOW)


@pytest.mark.parametrize(
    "alg", ["none", "HS256", "RS256", "PS256", "ES384", "Ed448", "ed25519", None, 1]
)
def test_refused_algorithms(payload: bytes, alg: Any) -> None:
    body = assemble(payload, {"alg": alg, "kid": f"{HOSPITAL}/2026-01"}, lambda d: b"")
    doc = orjson.loads(body)
    doc["signatures"][0]["signature"] = "AAAA"
    with pytest.raises(AlgorithmRefusedError) as exc:
        SignedMessage.parse(orjson.dumps(doc))
    assert exc.value.slug == "algorithm-refused"


def test_hs256_with_public_key_as_secret_is_refused_before_key_lookup(
    payload: bytes, hospital_key: SigningKey
) -> None:
    class Exploding:
        def resolve(self, kid: str, at: Any) -> Any:
            raise AssertionError("no key may be looked up for a refused algorithm")

    public_x = base64.urlsafe_b64decode(hospital_key.public_jwk()["x"] + "=")
    for secret in (public_x, orjson.dumps(hospital_key.public_jwk())):
        body = assemble(
            payload,
            {"alg": "HS256", "kid": hospital_key.kid},
            lambda d, s=secret: hmac.new(s, d, hashlib.sha256).digest(),
        )
        with pytest.raises(AlgorithmRefusedError):
            SignedMessage.parse(body).verify_origin(Exploding(), NOW)


def test_expired_and_not_yet_valid_key(payload: bytes, hospital_key: SigningKey) -> None:
    body = sign_message(payload, hospital_key)
    expired = KeyRegistry(
        [
            record(
                hospital_key, not_before=NOW - timedelta(days=60), not_after=NOW - timedelta(days=1)
            )
        ]
    )
    with pytest.raises(KeyExpiredError) as exc:
        SignedMessage.parse(body).verify_origin(expired, NOW)
    assert exc.value.slug == "key-expired"
    future = KeyRegistry([record(hospital_key, not_before=NOW + timedelta(days=1))])
    with pytest.raises(KeyExpiredError):
        SignedMessage.parse(body).verify_origin(future, NOW)


def test_revoked_key(payload: bytes, hospital_key: SigningKey, registry: KeyRegistry) -> None:
    registry.revoke(hospital_key.kid, NOW - timedelta(minutes=1))
    with pytest.raises(KeyRevokedError) as exc:
        SignedMessage.parse(sign_message(payload, hospital_key)).verify_origin(registry, NOW)
    assert exc.value.slug == "key-revoked"


def test_unknown_critical_header(payload: bytes, hospital_key: SigningKey) -> None:
    sk = hospital_key.key.get_op_key("sign")
    for header in (
        {"alg": "Ed25519", "kid": hospital_key.kid, "crit": ["exp"], "exp": 1},
        {"alg": "Ed25519", "kid": hospital_key.kid, "crit": ["zjx:seq"]},
        {"alg": "Ed25519", "kid": hospital_key.kid, "b64": False, "crit": ["b64"]},
    ):
        with pytest.raises(CriticalHeaderError):
            SignedMessage.parse(assemble(payload, header, sk.sign))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(extra=1),
        lambda d: d.pop("signatures"),
        lambda d: d.update(signatures=[]),
        lambda d: d.update(signatures={}),
        lambda d: d.update(payload=d["payload"] + "="),
        lambda d: d.update(payload=d["payload"].replace("e", "+", 1)),
        lambda d: d.update(payload=""),
        lambda d: d["signatures"][0].update(other=1),
        lambda d: d["signatures"][0].update(header={"kid": "x/y"}),
        lambda d: d["signatures"][0].update(header=[]),
        lambda d: d["signatures"][0].pop("protected"),
        lambda d: d["signatures"][0].update(signature=d["signatures"][0]["signature"][:-1] + "_"),
        lambda d: d.update(signatures=d["signatures"] * 5),
    ],
)
def test_malformed_envelopes(payload: bytes, hospital_key: SigningKey, mutate: Any) -> None:
    doc = orjson.loads(sign_message(payload, hospital_key))
    mutate(doc)
    with pytest.raises(EnvelopeError):
        SignedMessage.parse(orjson.dumps(doc))


def test_non_canonical_base64_trailing_bits(hospital_key: SigningKey) -> None:
    # a payload whose b64 length leaves unused bits (length not a multiple of 3); flip them
    for filler in ("a", "ab", "abc"):
        payload = build_event(
            source=HOSPITAL, type="cn.gov.zj.injury.x.v1", data={"k": filler}, id="i1"
        )
        if len(payload) % 3:
            break
    doc = orjson.loads(sign_message(payload, hospital_key))
    p = doc["payload"]
    assert len(p) % 4
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    doc["payload"] = p[:-1] + alphabet[alphabet.index(p[-1]) + 1]
    with pytest.raises(EnvelopeError):
        SignedMessage.parse(orjson.dumps(doc))


def test_duplicate_key_in_outer_object(payload: bytes, hospital_key: SigningKey) -> None:
    body = sign_message(payload, hospital_key)
    with pytest.raises(DuplicateKeyError):
        SignedMessage.parse(body[:-1] + b',"payload":"e30"}')


# --- countersignature and receipts ----------------------------------------------------------


def test_countersign_keeps_payload_b64_byte_identical(
    hospital_key: SigningKey, gateway_key: SigningKey, registry: KeyRegistry
) -> None:
    # a payload that orjson would re-serialise differently (spacing, escapes, key order)
    payload = (
        b'{ "specversion":"1.0", "id":"e-1","source":"330784.health.h001",'
        b'"type":"cn.gov.zj.injury.medical_diagnosis.v1","time":"2026-07-24T17:30:00+08:00",'
        b'"data": {"z": "\\u00e9", "a": 1.50}}'
    )
    body = sign_message(payload, hospital_key)
    msg, out, gw = accept(body, registry, gateway_key)
    doc, original = orjson.loads(out), orjson.loads(body)
    assert doc["payload"] == original["payload"] == msg.payload_b64
    assert doc["signatures"][0] == original["signatures"][0]
    assert doc["signatures"][1] == gw
    v = verify_all(out, registry, NOW, gateway_id=GATEWAY)
    assert v.event.raw == payload
    assert (v.origin, v.gateway, v.accepted_at, v.seq, v.recipients) == (
        HOSPITAL,
        GATEWAY,
        NOW,
        42,
        ("330784.hrss.recognition",),
    )
    header = orjson.loads(base64.urlsafe_b64decode(gw["protected"] + "=="))
    assert header["zjx:accepted"] == "2026-07-24T09:30:00.000Z"
    assert set(header) == {"alg", "kid", "zjx:gateway", "zjx:accepted", "zjx:seq", "zjx:recipients"}


def test_verify_all_refusals(
    payload: bytes, hospital_key: SigningKey, gateway_key: SigningKey, registry: KeyRegistry
) -> None:
    body = sign_message(payload, hospital_key)
    msg, out, _ = accept(body, registry, gateway_key)
    with pytest.raises(EnvelopeError):  # not countersigned
        verify_all(body, registry, NOW, gateway_id=GATEWAY)
    with pytest.raises(SourceMismatchError):  # expecting another gateway
        verify_all(out, registry, NOW, gateway_id="330700.zjx")
    # a department key posing as the gateway
    fake_gw = SigningKey.generate(f"{HOSPITAL}/gw")
    registry.add(record(fake_gw))
    forged, _ = countersign(msg, fake_gw, HOSPITAL, NOW, 1, [])
    with pytest.raises(SourceMismatchError):
        verify_all(forged, registry, NOW, gateway_id=GATEWAY)
    # tampered gateway header
    doc = orjson.loads(out)
    h = orjson.loads(base64.urlsafe_b64decode(doc["signatures"][1]["protected"] + "=="))
    h["zjx:seq"] = 7
    doc["signatures"][1]["protected"] = b64(orjson.dumps(h))
    with pytest.raises(SignatureError) as exc:
        verify_all(orjson.dumps(doc), registry, NOW, gateway_id=GATEWAY)
    assert exc.value.slug == "bad-signature"
    with pytest.raises(EnvelopeError):  # a second countersignature is not appended
        countersign(SignedMessage.parse(out), gateway_key, GATEWAY, NOW, 1, [])


def test_receipt_verifies_and_fails_on_another_payload(
    payload: bytes, hospital_key: SigningKey, gateway_key: SigningKey, registry: KeyRegistry
) -> None:
    msg, _, gw = accept(sign_message(payload, hospital_key), registry, gateway_key)
    receipt = make_receipt(msg, gw)
    doc = orjson.loads(receipt)
    assert doc["signature"] == gw  # the receipt IS the countersignature
    assert doc["id"] == msg.event.id and doc["payload_sha256"] == msg.payload_sha256
    r = verify_receipt(receipt, payload, registry, gateway_id=GATEWAY)
    assert (r.id, r.source, r.sequence, r.accepted_at, r.gateway) == (
        msg.event.id,
        HOSPITAL,
        42,
        NOW,
        GATEWAY,
    )
    other = build_event(
        source=HOSPITAL, type="cn.gov.zj.injury.x.v1", data={}, id=msg.event.id, time=NOW
    )
    with pytest.raises(SignatureError):
        verify_receipt(receipt, other, registry)
    doc["sequence"] = 41  # readable field that disagrees with the signed header
    with pytest.raises(MessageError) as exc:
        verify_receipt(orjson.dumps(doc), payload, registry)
    assert exc.value.slug == "receipt-mismatch"


def test_speed_of_parse_verify_countersign(
    payload: bytes, hospital_key: SigningKey, gateway_key: SigningKey, registry: KeyRegistry
) -> None:
    body = sign_message(payload, hospital_key)
    assert 1900 <= len(payload) <= 2300
    n = 300
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            msg = SignedMessage.parse(body)
            msg.verify_origin(registry, NOW)
            countersign(msg, gateway_key, GATEWAY, NOW, 1, ["330784.hrss.recognition"])
        best = min(best, (time.perf_counter() - start) / n)
    print(f"parse + verify_origin + countersign, 2 KB: {best * 1e6:.0f} µs")
    assert best < 2e-3
