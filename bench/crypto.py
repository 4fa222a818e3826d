"""Microseconds per operation of the national algorithms against their baselines, same run.

Why: SM2, SM3 and SM4 replace Ed25519/ES256, SHA-256 and plaintext storage where a deployment
chooses them (docs/miping.md); this says what each choice costs. Everything goes through the
gateway's own code paths on realistic sizes:

- signatures: ``sign_segments`` / ``verify_segments`` over a 2 KB JWS signing input, SM2
  against Ed25519 (the default) and ES256 (the other ECDSA);
- digests: the audit chain's ``link`` over a 400-byte entry and a 2 KB payload digest, SM3
  against SHA-256;
- at rest: ``RecordCodec.seal`` / ``open`` of a 2 KB message body, against storing it as it is
  (the plaintext baseline is a bytes copy: what the store does without encryption).

Pin it to one core so other work does not land in the middle (``taskset -c 1``)::

    taskset -c 1 .venv/bin/python -m bench.crypto [--seconds S]
"""

from __future__ import annotations

import argparse
import os

from bench.validation import _per_call_us
from gateway.audit.chain import genesis, link
from gateway.encryption import MemoryKeyRing, RecordCodec
from gateway.messages.jws import b64url_decode, b64url_encode, sign_segments, verify_segments
from gateway.trust import ALGORITHMS, Algorithm, SigningKey
from gateway.trust.digests import DIGESTS, DigestName, hexdigest

PAYLOAD = os.urandom(1500)  # base64url: about 2 KB of signing input
ENTRY = b'{"action":"message.accepted","actor":"330784.health.h001",' + b"x" * 340 + b"}"
BODY = os.urandom(2048)


def _sign_verify(alg: Algorithm, payload_b64: str, seconds: float) -> tuple[float, float]:
    key = SigningKey.generate(f"330784.zlb/{alg.lower()}", alg)
    header = {"alg": alg, "kid": key.kid}
    signed = sign_segments(header, payload_b64, key)
    signature = b64url_decode(signed["signature"], "/")
    sign_us = _per_call_us(lambda: sign_segments(header, payload_b64, key), seconds)
    verify_us = _per_call_us(
        lambda: verify_segments(signed["protected"], payload_b64, signature, alg, key.key),
        seconds,
    )
    return sign_us, verify_us


def _gmssl(payload_b64: str, seconds: float) -> tuple[float, float] | None:
    """GmSSL 3 through gmssl-pyx (a dev dependency, the tests' second implementation), the
    library not chosen: the same SM2 over the same input, DER in and out as it speaks."""
    try:
        import gmssl_pyx
    except ImportError:
        return None
    public, private = gmssl_pyx.sm2_key_generate()
    message = f"e30.{payload_b64}".encode("ascii")
    der = gmssl_pyx.sm2_sign(private, public, message)
    sign_us = _per_call_us(lambda: gmssl_pyx.sm2_sign(private, public, message), seconds)
    verify_us = _per_call_us(lambda: gmssl_pyx.sm2_verify(public, message, der), seconds)
    return sign_us, verify_us


def signatures(seconds: float) -> None:
    payload_b64 = b64url_encode(PAYLOAD)
    print(f"signatures over {len(payload_b64)} bytes of payload segment (µs/op)")
    base = 0.0
    for alg in ALGORITHMS:
        sign_us, verify_us = _sign_verify(alg, payload_b64, seconds)
        base = base or (sign_us + verify_us)
        ratio = (sign_us + verify_us) / base
        print(f"  {alg:8s} sign {sign_us:8.1f}  verify {verify_us:8.1f}  (x{ratio:.1f} Ed25519)")
    other = _gmssl(payload_b64, seconds)
    if other is not None:
        print(
            f"  SM2 by GmSSL (gmssl-pyx, not chosen) sign {other[0]:8.1f}  verify {other[1]:8.1f}"
        )


def _digest(name: DigestName, seconds: float) -> tuple[float, float]:
    start = genesis(name)
    chain = _per_call_us(lambda: link(start, ENTRY), seconds)
    return chain, _per_call_us(lambda: hexdigest(name, BODY), seconds)


def digests(seconds: float) -> None:
    print("digests (µs/op)")
    for name in DIGESTS:
        chain, payload = _digest(name, seconds)
        print(
            f"  {name:6s} audit link ({len(ENTRY)} B) {chain:6.2f}  payload ({len(BODY)} B) "
            f"{payload:6.2f}"
        )


def at_rest(seconds: float) -> None:
    codec = RecordCodec(MemoryKeyRing({"k1": os.urandom(16)}, "k1"))
    sealed = codec.seal(BODY, "message/1")
    plain = _per_call_us(lambda: bytes(bytearray(BODY)), seconds)
    seal = _per_call_us(lambda: codec.seal(BODY, "message/1"), seconds)
    unseal = _per_call_us(lambda: codec.open(sealed, "message/1"), seconds)
    print(f"at rest, a {len(BODY)}-byte record (µs/op)")
    print(f"  plaintext (copy, baseline) {plain:6.2f}")
    print(f"  SM4-GCM seal {seal:6.2f}  open {unseal:6.2f}  (+{len(sealed) - len(BODY)} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    signatures(args.seconds)
    digests(args.seconds)
    at_rest(args.seconds)


if __name__ == "__main__":
    main()
