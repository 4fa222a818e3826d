"""SM2 keys and the ``SM2`` JWS algorithm (DESIGN 3; GM/T 0003, GM/T 0009).

``alg`` ``"SM2"`` is an SM2 signature (GM/T 0003.2) over SM3 with the GM/T 0009 default user
id ``1234567812345678``; the JWS signature is ``r || s``, 32 bytes each, big-endian, as ES256
does (RFC 7518 3.4). A key is a JWK ``{"kty": "EC", "crv": "SM2", "x", "y"}`` (32 bytes each,
base64url), a private key adds ``d``.

The arithmetic is Tongsuo's, through ``tongsuopy`` (docs/decisions.md says why that library):
its ECDSA interface over an SM2 key with SM3 computes Z_A with the default user id and signs
SM3(Z_A || M), which the tests check against the standard's published example and against
GmSSL. What is written here: the JWK form, the ``r || s`` form, and the range checks the
standard asks of a verifier before any curve arithmetic (GM/T 0003.2 7.1 B1-B2).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.errors import InvalidKeyTypeError
from joserfc.jwa import JWSAlgModel
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode
from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.asymciphers.utils import encode_dss_signature
from tongsuopy.crypto.exceptions import InternalError, InvalidSignature

from gateway.problems import KeyMaterialError

__all__ = ["COMPONENT_BYTES", "SM2Algorithm", "SM2Key", "parameters"]

COMPONENT_BYTES = 32
_SIGNATURE = ec.ECDSA(hashes.SM3())  # on an SM2 key: SM2 signing with Z_A (default user id)


@cache
def parameters() -> dict[str, Any]:
    """The SM2 facts in ``sm2.toml`` (curve order, default user id), each with its source."""
    text = files("gateway.trust").joinpath("sm2.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _order() -> int:
    return int(parameters()["curve"]["n"], 16)


def _coordinate(jwk: dict[str, Any], name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise KeyMaterialError(f"the SM2 key needs '{name}' as a base64url string")
    try:
        raw = urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, TypeError):  # binascii.Error and UnicodeEncodeError are ValueErrors
        raise KeyMaterialError(f"the SM2 key's '{name}' is not canonical base64url") from None
    if len(raw) != COMPONENT_BYTES:
        raise KeyMaterialError(f"the SM2 key's '{name}' must be {COMPONENT_BYTES} bytes")
    return int.from_bytes(raw, "big")


def _encode(number: int) -> str:
    return urlsafe_b64encode(number.to_bytes(COMPONENT_BYTES, "big")).decode("ascii")


class SM2Key:
    """An SM2 public key, or a key pair, read from and written as a JWK.

    ``import_key`` raises ``KeyMaterialError`` for anything that is not a point of the SM2
    curve (or a ``d`` outside [1, n-2], or a ``d`` that does not belong to ``x``/``y``)."""

    key_type = "EC"
    curve_name = "SM2"

    __slots__ = ("_private", "_public")

    def __init__(
        self, public: ec.EllipticCurvePublicKey, private: ec.EllipticCurvePrivateKey | None
    ) -> None:
        self._public = public
        self._private = private

    @classmethod
    def generate_key(cls) -> SM2Key:
        """A fresh key pair from Tongsuo's random generator."""
        private = ec.generate_private_key(ec.SM2())
        return cls(private.public_key(), private)

    @classmethod
    def import_key(cls, jwk: dict[str, Any]) -> SM2Key:
        """From ``{"kty": "EC", "crv": "SM2", "x", "y"[, "d"]}``; other members are ignored."""
        if jwk.get("kty") != "EC" or jwk.get("crv") != "SM2":
            raise KeyMaterialError("an SM2 key is a JWK with kty 'EC' and crv 'SM2'")
        x, y = _coordinate(jwk, "x"), _coordinate(jwk, "y")
        try:
            public = ec.EllipticCurvePublicNumbers(x, y, ec.SM2()).public_key()
        except ValueError:
            raise KeyMaterialError("the SM2 key's x and y are not a point of the curve") from None
        if "d" not in jwk:
            return cls(public, None)
        d = _coordinate(jwk, "d")
        if not 1 <= d <= _order() - 2:  # GM/T 0003.1 6.1
            raise KeyMaterialError("the SM2 private key 'd' is outside [1, n-2]")
        private = ec.derive_private_key(d, ec.SM2())
        if private.public_key().public_numbers() != public.public_numbers():
            raise KeyMaterialError("the SM2 private key 'd' does not belong to its x and y")
        return cls(public, private)

    @property
    def is_private(self) -> bool:
        return self._private is not None

    def as_dict(self, private: bool = False) -> dict[str, Any]:
        """The JWK members (``kty``, ``crv``, ``x``, ``y``, and ``d`` when ``private``)."""
        numbers = self._public.public_numbers()
        jwk: dict[str, Any] = {
            "kty": "EC",
            "crv": "SM2",
            "x": _encode(numbers.x),
            "y": _encode(numbers.y),
        }
        if private:
            if self._private is None:
                raise KeyMaterialError("this SM2 key has no private part")
            jwk["d"] = _encode(self._private.private_numbers().private_value)
        return jwk

    def sign(self, message: bytes) -> bytes:
        """``r || s`` (64 bytes) of an SM2 signature over SM3(Z_A || message)."""
        if self._private is None:
            raise KeyMaterialError("signing needs the SM2 private key")
        der = self._private.sign(message, _SIGNATURE)
        r, s = decode_dss_signature(der)
        return r.to_bytes(COMPONENT_BYTES, "big") + s.to_bytes(COMPONENT_BYTES, "big")

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (``r || s``) is this key's over ``message``. Anything but 64
        bytes, or r or s outside [1, n-1] (GM/T 0003.2 7.1 B1-B2), is False without
        any curve arithmetic."""
        if len(signature) != 2 * COMPONENT_BYTES:
            return False
        r = int.from_bytes(signature[:COMPONENT_BYTES], "big")
        s = int.from_bytes(signature[COMPONENT_BYTES:], "big")
        n = _order()
        if not (1 <= r < n and 1 <= s < n):
            return False
        try:
            self._public.verify(encode_dss_signature(r, s), message, _SIGNATURE)
        except (InvalidSignature, InternalError):
            return False
        return True


class SM2Algorithm(JWSAlgModel):
    """The JWS algorithm ``SM2`` for joserfc's model interface: only an ``SM2Key`` fits."""

    name = "SM2"
    description = "SM2 (GM/T 0003.2) with SM3 and the GM/T 0009 default user id"
    key_type = "EC"

    def check_key(self, key: Any) -> None:
        if not isinstance(key, SM2Key):
            raise InvalidKeyTypeError("Algorithm 'SM2' requires an SM2 key")

    def sign(self, msg: bytes, key: Any) -> bytes:
        self.check_key(key)
        signature: bytes = key.sign(msg)
        return signature

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:
        self.check_key(key)
        verified: bool = key.verify(msg, sig)
        return verified
