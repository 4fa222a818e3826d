"""JWS building blocks over joserfc: the algorithm allow-list, strict protected headers, and
signing/verifying one signature over the *received* segments.

Why not ``joserfc.jws.serialize_json`` / ``deserialize_json`` for everything: the contract
(DESIGN 3) is that signatures cover the exact bytes received, nothing re-serialised.
``serialize_json`` takes the decoded payload and encodes it again, and ``deserialize_json``
parses protected headers with the lenient stdlib reader and verifies every signature with one
key finder. Here we verify one chosen signature over ``protected_b64 + "." + payload_b64`` as
received, after the strict reader has parsed its header. The signature primitives, the
algorithm models, key handling and the canonical base64url decoder are joserfc's (SM2's model
is ``gateway.trust.sm2``, over Tongsuo); the only thing written here is that concatenation,
the compact form for tokens and checkpoints, and the allow-list policy.
"""

from __future__ import annotations

from typing import Any

import orjson
from joserfc.errors import JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jws import JWSRegistry
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

from gateway.messages import strict_json
from gateway.problems import (
    AlgorithmRefusedError,
    CriticalHeaderError,
    EnvelopeError,
    SignatureError,
    StrictJSONError,
    Violation,
)
from gateway.trust.keys import Algorithm, PublicKey, SigningKey, algorithm_of
from gateway.trust.sm2 import SM2Algorithm

__all__ = [
    "ACCEPTED_ALGORITHMS",
    "GATEWAY_HEADERS",
    "b64url_decode",
    "b64url_encode",
    "canonical_alg",
    "decode_protected",
    "sign_compact",
    "sign_segments",
    "verify_compact",
    "verify_segments",
]

#: header ``alg`` values accepted on input, and the algorithm each means. ``EdDSA`` is the
#: older (RFC 8037) name; with an OKP/Ed25519 key it is the same computation as ``Ed25519``.
#: ``SM2`` is SM2 with SM3 and the default user id (DESIGN 3, ``gateway.trust.sm2``).
ACCEPTED_ALGORITHMS: dict[str, Algorithm] = {
    "Ed25519": "Ed25519",
    "EdDSA": "Ed25519",
    "ES256": "ES256",
    "SM2": "SM2",
}
#: header parameters of the gateway's countersignature (docs/architecture.md)
GATEWAY_HEADERS = frozenset({"zjx:gateway", "zjx:accepted", "zjx:seq", "zjx:recipients"})
#: names a ``crit`` header may list: the extensions this gateway understands
_UNDERSTOOD_CRITICAL = GATEWAY_HEADERS
MAX_PROTECTED_B64 = 4096

_REGISTRY = JWSRegistry(algorithms=["Ed25519", "ES256"])
_MODELS: dict[Algorithm, JWSAlgModel] = {
    **{a: _REGISTRY.get_alg(a) for a in ("Ed25519", "ES256")},
    "SM2": SM2Algorithm(),
}


def b64url_encode(data: bytes) -> str:
    return urlsafe_b64encode(data).decode("ascii")


def b64url_decode(value: str, pointer: str) -> bytes:
    """Strict base64url without padding (RFC 7515 2), canonical trailing bits; else
    ``EnvelopeError`` naming ``pointer``."""
    try:
        # joserfc's decoder refuses padding, '+', '/', other characters and non-zero
        # trailing bits; non-ASCII fails the encode (UnicodeEncodeError is a ValueError).
        return urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        raise _envelope(pointer, "must be canonical base64url without padding") from None


def _envelope(pointer: str, message: str) -> EnvelopeError:
    return EnvelopeError(f"'{pointer}' {message}", violations=[Violation(pointer, message)])


def canonical_alg(name: Any, pointer: str = "/alg") -> Algorithm:
    """The algorithm a header ``alg`` means, or ``AlgorithmRefusedError``: anything but
    Ed25519 (EdDSA), ES256 and SM2 is refused, ``none``, HMAC and RSA included."""
    alg = ACCEPTED_ALGORITHMS.get(name) if isinstance(name, str) else None
    if alg is None:
        shown = name[:40] if isinstance(name, str) else type(name).__name__
        raise AlgorithmRefusedError(
            f"algorithm {shown!r} is refused; accepted: Ed25519 (or EdDSA), ES256, SM2",
            violations=[Violation(pointer, "algorithm refused")],
        )
    return alg


def decode_protected(value: Any, pointer: str) -> tuple[dict[str, Any], Algorithm]:
    """Decode and check a protected header: strict JSON object, accepted ``alg``, string
    ``kid``, no ``b64`` (RFC 7797), ``crit`` only naming understood, present parameters."""
    if not isinstance(value, str) or not value:
        raise _envelope(pointer, "must be a non-empty base64url string")
    if len(value) > MAX_PROTECTED_B64:
        raise _envelope(pointer, f"is longer than {MAX_PROTECTED_B64} characters")
    raw = b64url_decode(value, pointer)
    try:
        header = strict_json.loads(raw, max_bytes=MAX_PROTECTED_B64, max_depth=4)
    except StrictJSONError as exc:
        raise type(exc)(
            f"the protected header at '{pointer}': {exc.detail}",
            violations=[Violation(pointer, exc.detail)],
        ) from None
    if not isinstance(header, dict):
        raise _envelope(pointer, "must encode a JSON object")
    alg = canonical_alg(header.get("alg"), pointer + "/alg")
    if "b64" in header:
        raise CriticalHeaderError(
            "unencoded payloads (RFC 7797 'b64') are not accepted",
            violations=[Violation(pointer + "/b64", "not accepted")],
        )
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            raise CriticalHeaderError(
                "'crit' must be a non-empty list of header names",
                violations=[Violation(pointer + "/crit", "malformed")],
            )
        unknown = [c for c in crit if c not in _UNDERSTOOD_CRITICAL or c not in header]
        if unknown:
            raise CriticalHeaderError(
                f"critical header parameters not understood or absent: {unknown[:5]}",
                violations=[Violation(pointer + "/crit", "not understood")],
            )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _envelope(pointer + "/kid", "must be a non-empty string")
    return header, alg


def sign_segments(protected: dict[str, Any], payload_b64: str, key: SigningKey) -> dict[str, str]:
    """Sign ``payload_b64`` exactly as given under ``protected``; returns the general
    serialization's signature object ``{"protected", "signature"}``."""
    protected_b64 = b64url_encode(orjson.dumps(protected))
    model = _MODELS[key.alg]
    model.check_key(key.key)
    signature = model.sign(f"{protected_b64}.{payload_b64}".encode("ascii"), key.key)
    return {"protected": protected_b64, "signature": b64url_encode(signature)}


def verify_segments(
    protected_b64: str, payload_b64: str, signature: bytes, alg: Algorithm, key: PublicKey
) -> None:
    """Verify one signature over the received segments, or ``SignatureError`` (bad-signature).
    The key must be of the header's algorithm: a key of one never verifies another's."""
    model = _MODELS[alg]
    if algorithm_of(key) != alg:
        raise SignatureError(f"the key does not fit algorithm {alg}")
    try:
        model.check_key(key)  # the key's type and curve must fit the algorithm
    except JoseError:
        raise SignatureError(f"the key does not fit algorithm {alg}") from None
    if not model.verify(f"{protected_b64}.{payload_b64}".encode("ascii"), signature, key):
        raise SignatureError("the signature does not verify over this payload and header")


def sign_compact(protected: dict[str, Any], payload: bytes, key: SigningKey) -> str:
    """A compact JWS (RFC 7515 7.1) of ``payload`` under ``protected``, for tokens and audit
    checkpoints; ``protected`` must name ``key.alg``."""
    if protected.get("alg") != key.alg:
        raise ValueError(f"the header's alg {protected.get('alg')!r} is not the key's {key.alg}")
    payload_b64 = b64url_encode(payload)
    signed = sign_segments(protected, payload_b64, key)
    return f"{signed['protected']}.{payload_b64}.{signed['signature']}"


def verify_compact(token: str, key: PublicKey) -> tuple[dict[str, Any], bytes]:
    """The protected header and payload of a compact JWS that ``key`` signed; otherwise a
    ``MessageError`` (``SignatureError`` when the signature or the algorithm does not fit)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _envelope("", "a compact JWS has three dot-separated parts")
    header, alg = decode_protected(parts[0], "/protected")
    payload = b64url_decode(parts[1], "/payload")
    signature = b64url_decode(parts[2], "/signature")
    verify_segments(parts[0], parts[1], signature, alg, key)
    return header, payload
