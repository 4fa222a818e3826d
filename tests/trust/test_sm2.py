"""SM2 (GM/T 0003) as the JWS algorithm ``SM2``: the standard's example, a second
implementation (GmSSL 3 through gmssl-pyx) both ways, the JWK form, and the allow-list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gmssl_pyx
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from gateway.messages.jws import (
    b64url_encode,
    canonical_alg,
    sign_compact,
    sign_segments,
    verify_compact,
    verify_segments,
)
from gateway.problems import AlgorithmRefusedError, KeyMaterialError, SignatureError
from gateway.trust import KeyRecord, SigningKey
from gateway.trust.digests import hexdigest
from gateway.trust.keys import alg_for_jwk
from gateway.trust.sm2 import SM2Key, parameters

VECTORS = json.loads((Path(__file__).parent / "vectors" / "national.json").read_text())
EXAMPLE = VECTORS["sm2_signature"]
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def _b64(hex_value: str) -> str:
    return b64url_encode(bytes.fromhex(hex_value))


def _example_jwk(private: bool = False) -> dict[str, Any]:
    jwk = {"kty": "EC", "crv": "SM2", "x": _b64(EXAMPLE["x"]), "y": _b64(EXAMPLE["y"])}
    return {**jwk, "d": _b64(EXAMPLE["d"])} if private else jwk


def gmssl_sign(key: SM2Key, message: bytes) -> bytes:
    """``r || s`` by GmSSL (the second implementation) with the default user id."""
    jwk = key.as_dict(private=True)
    d, public = _raw(jwk["d"]), _raw(jwk["x"]) + _raw(jwk["y"])
    user_id = parameters()["signature"]["user_id"].encode("ascii")
    r, s = decode_dss_signature(gmssl_pyx.sm2_sign(d, public, message, signer_id=user_id))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def gmssl_verify(jwk: dict[str, Any], message: bytes, signature: bytes) -> bool:
    public = _raw(jwk["x"]) + _raw(jwk["y"])
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    user_id = parameters()["signature"]["user_id"].encode("ascii")
    return bool(gmssl_pyx.sm2_verify(public, message, der, signer_id=user_id))


def _raw(value: str) -> bytes:
    from gateway.messages.jws import b64url_decode

    return b64url_decode(value, "/")


def test_the_standards_example_verifies_and_its_key_pair_is_consistent() -> None:
    key = SM2Key.import_key(_example_jwk(private=True))
    assert key.as_dict(private=False) == _example_jwk()
    signature = bytes.fromhex(EXAMPLE["r"] + EXAMPLE["s"])
    message = EXAMPLE["message_ascii"].encode("ascii")
    assert EXAMPLE["user_id_ascii"] == parameters()["signature"]["user_id"]
    public = SM2Key.import_key(_example_jwk())
    assert public.verify(message, signature)
    assert not public.verify(message + b".", signature)
    tampered = bytearray(signature)
    tampered[63] ^= 1
    assert not public.verify(message, bytes(tampered))
    assert gmssl_verify(_example_jwk(), message, signature)


def test_ours_verifies_with_gmssl_and_gmssl_verifies_with_ours() -> None:
    key = SM2Key.generate_key()
    public = key.as_dict(private=False)
    message = b'{"specversion":"1.0","id":"x"}'
    ours = key.sign(message)
    assert len(ours) == 64 and gmssl_verify(public, message, ours)
    assert not gmssl_verify(public, message + b" ", ours)
    theirs = gmssl_sign(key, message)
    assert SM2Key.import_key(public).verify(message, theirs)
    assert not SM2Key.import_key(public).verify(message[:-1], theirs)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"x": _b64("00" * 32)}, "not a point of the curve"),
        ({"x": _b64("01" * 31)}, "must be 32 bytes"),
        ({"y": 7}, "needs 'y'"),
        ({"d": _b64("00" * 32)}, "outside [1, n-2]"),
        ({"d": _b64("01" * 32)}, "does not belong"),
        ({"d": _b64("ff" * 32)}, "outside [1, n-2]"),
    ],
)
def test_bad_sm2_keys_are_refused_by_name(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(KeyMaterialError) as caught:
        SM2Key.import_key({**_example_jwk(private=True), **change})
    assert reason in caught.value.detail


def test_r_or_s_out_of_range_never_verifies() -> None:
    public = SM2Key.import_key(_example_jwk())
    message = EXAMPLE["message_ascii"].encode("ascii")
    n = int(parameters()["curve"]["n"], 16)
    r = bytes.fromhex(EXAMPLE["r"])
    for bad in (b"\0" * 32 + bytes.fromhex(EXAMPLE["s"]), r + n.to_bytes(32, "big")):
        assert not public.verify(message, bad)
    assert not public.verify(message, r)  # 32 bytes, not 64


def test_a_key_of_one_algorithm_never_verifies_anothers_signature() -> None:
    sm2 = SigningKey.generate("330784.zlb/sm2", "SM2")
    es256 = SigningKey.generate("330784.zlb/es", "ES256")
    ed = SigningKey.generate("330784.zlb/ed", "Ed25519")
    payload = b64url_encode(b"{}")
    signed = sign_segments({"alg": "SM2", "kid": sm2.kid}, payload, sm2)
    signature = _raw(signed["signature"])
    verify_segments(signed["protected"], payload, signature, "SM2", sm2.key)
    for other, alg in ((es256, "ES256"), (ed, "Ed25519"), (es256, "SM2"), (sm2, "ES256")):
        with pytest.raises(SignatureError):
            verify_segments(signed["protected"], payload, signature, alg, other.key)  # type: ignore[arg-type]
    es_signed = sign_segments({"alg": "ES256", "kid": es256.kid}, payload, es256)
    with pytest.raises(SignatureError):
        verify_segments(
            es_signed["protected"], payload, _raw(es_signed["signature"]), "SM2", sm2.key
        )


def test_sm2_jwk_round_trip_record_and_key_file(tmp_path: Path) -> None:
    key = SigningKey.generate("330784.health.h001/gm1", "SM2")
    public = key.public_jwk()
    assert (public["kty"], public["crv"], public["alg"], "d" in public) == (
        "EC",
        "SM2",
        "SM2",
        False,
    )
    assert alg_for_jwk(public) == "SM2"
    key.save(tmp_path / "k.jwk")
    loaded = SigningKey.load(tmp_path / "k.jwk")
    assert loaded.alg == "SM2" and loaded.public_jwk() == public
    record = KeyRecord(key.kid, "330784.health.h001", public, EPOCH)
    token = sign_compact({"alg": "SM2", "kid": key.kid}, b'{"seq":1}', loaded)
    header, payload = verify_compact(token, record.key)
    assert (header["alg"], payload) == ("SM2", b'{"seq":1}')
    with pytest.raises(KeyMaterialError, match="private members"):
        KeyRecord(key.kid, "330784.health.h001", key.private_jwk(), EPOCH)
    with pytest.raises(KeyMaterialError, match="does not fit"):
        alg_for_jwk({**public, "alg": "ES256"})


def test_sm3_vectors_of_gmt_0004() -> None:
    for vector in VECTORS["sm3"]["vectors"]:
        assert hexdigest("sm3", vector["message_ascii"].encode("ascii")) == vector["digest"]


def test_the_allow_list_knows_sm2_by_its_exact_name_only() -> None:
    assert canonical_alg("SM2") == "SM2"
    for name in ("sm2", "SM2withSM3", "SM3", "SM2-SM3", "ES256K"):
        with pytest.raises(AlgorithmRefusedError):
            canonical_alg(name)
