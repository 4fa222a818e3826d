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


# GM/T 0003.5 3: the recommended curve's a, b, xG, yG (hex), to compute Z_A independently.
_CURVE_FOR_Z = (
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
)


def _z(user_id: bytes, public: bytes) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || xG || yG || xA || yA) (GM/T 0003.2 5.5)."""
    entl = (8 * len(user_id)).to_bytes(2, "big")
    curve = b"".join(bytes.fromhex(h) for h in _CURVE_FOR_Z)
    return bytes.fromhex(hexdigest("sm3", entl + user_id + curve + public))


def test_the_default_user_id_is_really_hashed_in() -> None:
    """GM/T 0009 10: a signature over SM3(M) without Z_A, or over SM3(Z_A || M) with
    another user id, is not an ``SM2`` signature; the control, GmSSL signing the digest
    SM3(Z_A || M) with the default user id, is."""
    key = SM2Key.generate_key()
    jwk = key.as_dict(private=True)
    d, public = _raw(jwk["d"]), _raw(jwk["x"]) + _raw(jwk["y"])
    message = b'{"specversion":"1.0","id":"z"}'
    verifier = SM2Key.import_key(key.as_dict(private=False))
    user_id = parameters()["signature"]["user_id"].encode("ascii")

    def signed(prefix: bytes) -> bytes:
        digest = bytes.fromhex(hexdigest("sm3", prefix + message))
        r, s = decode_dss_signature(gmssl_pyx.sm2_sign_sm3_digest(d, digest))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    assert verifier.verify(message, signed(_z(user_id, public)))
    assert not verifier.verify(message, signed(b""))
    assert not verifier.verify(message, signed(_z(b"ALICE123@YAHOO.COM", public)))


def test_malleated_signatures_and_unreduced_coordinates_are_refused() -> None:
    """SM2 has no low-s rule, and none is needed: n - s, or r and s swapped, never verify;
    a coordinate given as x + p is not a field element (GM/T 0003.1 6.2)."""
    key = SM2Key.generate_key()
    verifier = SM2Key.import_key(key.as_dict(private=False))
    message = b"{}"
    signature = key.sign(message)
    n = int(parameters()["curve"]["n"], 16)
    s = int.from_bytes(signature[32:], "big")
    assert verifier.verify(message, signature)
    assert not verifier.verify(message, signature[:32] + (n - s).to_bytes(32, "big"))
    assert not verifier.verify(message, signature[32:] + signature[:32])
    p = int(_CURVE_FOR_Z[0], 16) + 3
    x = 1  # on the curve: x^3 + ax + b is a square mod p for x = 1
    y = pow((x**3 + (p - 3) * x + int(_CURVE_FOR_Z[1], 16)) % p, (p + 1) // 4, p)
    point = {"kty": "EC", "crv": "SM2", "y": b64url_encode(y.to_bytes(32, "big"))}
    assert SM2Key.import_key({**point, "x": b64url_encode(x.to_bytes(32, "big"))})
    with pytest.raises(KeyMaterialError, match="not a point"):
        SM2Key.import_key({**point, "x": b64url_encode((x + p).to_bytes(32, "big"))})


def test_a_key_relabelled_to_the_other_curve_is_refused() -> None:
    """An SM2 point sent as crv P-256, or a P-256 point sent as crv SM2, is no key at all."""
    sm2 = SigningKey.generate("330784.zlb/a", "SM2")
    es256 = SigningKey.generate("330784.zlb/b", "ES256")
    for source, crv, reason in ((sm2, "P-256", "not on the curve"), (es256, "SM2", "not a point")):
        jwk = {k: v for k, v in source.public_jwk().items() if k not in ("alg", "kid")}
        with pytest.raises(KeyMaterialError, match=reason):
            KeyRecord(source.kid, "330784.zlb", {**jwk, "crv": crv}, EPOCH)


def test_r_plus_s_equal_to_n_never_verifies() -> None:
    """GM/T 0003.2 7.1 B5: t = (r + s) mod n = 0 is a failure, not a degenerate success."""
    key = SM2Key.generate_key()
    signature = key.sign(b"m")
    n = int(parameters()["curve"]["n"], 16)
    r = int.from_bytes(signature[:32], "big")
    assert not key.verify(b"m", signature[:32] + (n - r).to_bytes(32, "big"))
