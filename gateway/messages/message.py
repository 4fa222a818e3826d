"""Signed messages: JWS General JSON Serialization (RFC 7515 7.2.1) of a CloudEvent (DESIGN 3).

The first signature is the origin department's. At acceptance the gateway appends its own
signature over the same, untouched payload segment; that countersignature is also the
sender's receipt (``make_receipt``): one signed fact, not two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from gateway.clock import utc_iso
from gateway.configuration.model import EventSettings
from gateway.messages import strict_json
from gateway.messages.event import ANY_EXTENSION, CloudEvent, parse_event, parse_time
from gateway.messages.jws import (
    b64url_decode,
    b64url_encode,
    decode_protected,
    sign_segments,
    verify_segments,
)
from gateway.problem_types import RECEIPT_MISMATCH
from gateway.problems import (
    EnvelopeError,
    MessageError,
    SignatureError,
    SourceMismatchError,
    Violation,
)
from gateway.trust.digests import DIGESTS, DigestName, hexdigest
from gateway.trust.keys import Algorithm, KeyRecord, KeyResolver, SigningKey, split_kid

__all__ = [
    "MAX_SIGNATURES",
    "MEDIA_TYPE",
    "Receipt",
    "Signature",
    "SignedMessage",
    "Verified",
    "countersign",
    "make_receipt",
    "sign_message",
    "verify_all",
    "verify_receipt",
]

MEDIA_TYPE = "application/jose+json"
MAX_SIGNATURES = 4
DEFAULT_MAX_BYTES = strict_json.DEFAULT_MAX_BYTES
_SIGNATURE_MEMBERS = frozenset({"protected", "signature", "header"})


def _envelope(pointer: str, message: str) -> EnvelopeError:
    return EnvelopeError(f"'{pointer}' {message}", violations=[Violation(pointer, message)])


@dataclass(frozen=True, slots=True)
class Signature:
    """One entry of ``signatures`` with its protected header decoded and checked."""

    protected_b64: str
    signature_b64: str
    header: dict[str, Any]
    unprotected: dict[str, Any] | None
    signature: bytes
    alg: Algorithm
    #: the signature object exactly as received (re-emitted verbatim by ``countersign``)
    raw: dict[str, Any]

    @property
    def kid(self) -> str:
        kid: str = self.header["kid"]
        return kid

    def as_json(self) -> dict[str, Any]:
        return self.raw


def _parse_signature(item: Any, index: int) -> Signature:
    pointer = f"/signatures/{index}"
    if not isinstance(item, dict):
        raise _envelope(pointer, "must be an object")
    extra = item.keys() - _SIGNATURE_MEMBERS
    if extra:
        raise _envelope(
            pointer, f"has members other than protected, signature, header: {sorted(extra)[:5]}"
        )
    header, alg = decode_protected(item.get("protected"), pointer + "/protected")
    unprotected = item.get("header")
    if "header" in item:
        if not isinstance(unprotected, dict):
            raise _envelope(pointer + "/header", "must be an object")
        clash = unprotected.keys() & ({"alg", "kid", "crit", "b64"} | header.keys())
        if clash:
            raise _envelope(
                pointer + "/header",
                f"must not carry {sorted(clash)[:5]}: they belong in the protected header",
            )
    sig_b64 = item.get("signature")
    if not isinstance(sig_b64, str) or not sig_b64:
        raise _envelope(pointer + "/signature", "must be a non-empty base64url string")
    if len(sig_b64) > 1024:
        raise _envelope(pointer + "/signature", "is too long")
    signature = b64url_decode(sig_b64, pointer + "/signature")
    return Signature(
        protected_b64=item["protected"],
        signature_b64=sig_b64,
        header=header,
        unprotected=unprotected,
        signature=signature,
        alg=alg,
        raw=item,
    )


class SignedMessage:
    """A parsed (not yet verified) signed message."""

    __slots__ = ("_payload_sha256", "event", "payload", "payload_b64", "signatures")

    def __init__(
        self, payload_b64: str, payload: bytes, event: CloudEvent, signatures: Sequence[Signature]
    ) -> None:
        self.payload_b64 = payload_b64
        self.payload = payload
        self.event = event
        self.signatures: tuple[Signature, ...] = tuple(signatures)
        self._payload_sha256: str | None = None

    def __repr__(self) -> str:
        return (
            f"SignedMessage(id={self.event.id!r}, source={self.event.source!r}, "
            f"type={self.event.type!r}, signatures={len(self.signatures)})"
        )

    @classmethod
    def parse(
        cls,
        body: bytes,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        rules: EventSettings = ANY_EXTENSION,
    ) -> SignedMessage:
        """Strictly parse a message body. Every ``alg`` is checked against the allow-list
        here, before any key is looked at; ``rules`` are the deployment's bounds on the
        event's extension attributes. Raises ``MessageError`` subclasses."""
        outer = strict_json.loads(body, max_bytes=max_bytes, max_depth=8)
        if not isinstance(outer, dict):
            raise _envelope("", "must be a JWS General JSON Serialization object")
        if outer.keys() != {"payload", "signatures"}:
            if "signature" in outer or "protected" in outer:
                raise _envelope(
                    "", "flattened or compact JWS is not accepted; use the general form"
                )
            raise _envelope("", "must have exactly the members 'payload' and 'signatures'")
        signatures = outer["signatures"]
        if not isinstance(signatures, list) or not signatures:
            raise _envelope("/signatures", "must be a non-empty array")
        if len(signatures) > MAX_SIGNATURES:
            raise _envelope("/signatures", f"has more than {MAX_SIGNATURES} entries")
        parsed = [_parse_signature(item, i) for i, item in enumerate(signatures)]
        payload_b64 = outer["payload"]
        if not isinstance(payload_b64, str) or not payload_b64:
            raise _envelope("/payload", "must be a non-empty base64url string")
        payload = b64url_decode(payload_b64, "/payload")
        event = parse_event(payload, max_bytes=max_bytes, rules=rules)
        return cls(payload_b64, payload, event, parsed)

    @property
    def origin(self) -> Signature:
        return self.signatures[0]

    @property
    def payload_sha256(self) -> str:
        if self._payload_sha256 is None:
            self._payload_sha256 = hashlib.sha256(self.payload).hexdigest()
        return self._payload_sha256

    def payload_digest(self, name: DigestName) -> str:
        """The payload's digest in hex with the deployment's ``[crypto] digest``."""
        return self.payload_sha256 if name == "sha256" else hexdigest(name, self.payload)

    def verify_signature(self, index: int, resolver: KeyResolver, at: datetime) -> KeyRecord:
        """Verify ``signatures[index]`` with the key its kid names, usable at ``at``."""
        sig = self.signatures[index]
        record = resolver.resolve(sig.kid, at)
        if record.kid != sig.kid:  # a resolver must return the key it was asked for
            raise SignatureError("the resolver returned another key")
        verify_segments(sig.protected_b64, self.payload_b64, sig.signature, sig.alg, record.key)
        return record

    def verify_origin(self, resolver: KeyResolver, at: datetime) -> str:
        """Verify the first signature; return the signing department's id, which must be the
        event's ``source`` (else ``SourceMismatchError``)."""
        department, _ = split_kid(self.origin.kid)
        if department != self.event.source:
            raise SourceMismatchError(
                f"the message is signed by {department}, but its source is {self.event.source}",
                violations=[Violation("/signatures/0/protected/kid", "not a key of the source")],
            )
        record = self.verify_signature(0, resolver, at)
        if record.department != department:
            raise SourceMismatchError(f"the key {record.kid} belongs to {record.department}")
        return department


def sign_message(event_payload: bytes, key: SigningKey) -> bytes:
    """A one-signature General JSON JWS of ``event_payload`` for a sender. The payload is
    checked with ``parse_event`` first, and the key must be one of the event's source."""
    event = parse_event(event_payload)
    if key.owner != event.source:
        raise SourceMismatchError(f"the key {key.kid} is not a key of the source {event.source}")
    payload_b64 = b64url_encode(event_payload)
    signature = sign_segments({"alg": key.alg, "kid": key.kid}, payload_b64, key)
    return orjson.dumps({"payload": payload_b64, "signatures": [signature]})


def countersign(
    message: SignedMessage,
    key: SigningKey,
    gateway_id: str,
    accepted_at: datetime,
    seq: int,
    recipients: Sequence[str],
) -> tuple[bytes, dict[str, Any]]:
    """Append the gateway's signature over the ORIGINAL payload segment. Returns the new
    body (``{"payload": <as received>, "signatures": [<origin as received>, <gateway>]}``)
    and the gateway signature object, which is also the receipt's signature."""
    if key.owner != gateway_id:
        raise ValueError(f"the key {key.kid} is not a key of the gateway {gateway_id}")
    if len(message.signatures) != 1:
        raise EnvelopeError(
            "a submitted message carries exactly one signature, the origin's",
            violations=[Violation("/signatures", "exactly one signature expected")],
        )
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError("seq must be a non-negative int")
    protected = {
        "alg": key.alg,
        "kid": key.kid,
        "zjx:gateway": gateway_id,
        "zjx:accepted": utc_iso(accepted_at),
        "zjx:seq": seq,
        "zjx:recipients": list(recipients),
    }
    gateway_signature = sign_segments(protected, message.payload_b64, key)
    body = orjson.dumps(
        {"payload": message.payload_b64, "signatures": [message.origin.raw, gateway_signature]}
    )
    return body, gateway_signature


@dataclass(frozen=True, slots=True)
class GatewayFact:
    """What a gateway countersignature asserts (its protected header, checked)."""

    gateway: str
    accepted_at: datetime
    accepted_at_text: str
    seq: int
    recipients: tuple[str, ...]


def _gateway_fact(header: dict[str, Any], pointer: str) -> GatewayFact:
    gateway = header.get("zjx:gateway")
    accepted_text = header.get("zjx:accepted")
    seq = header.get("zjx:seq")
    recipients = header.get("zjx:recipients")
    if not isinstance(gateway, str) or not gateway:
        raise _envelope(pointer + "/zjx:gateway", "must be the gateway id")
    accepted = parse_time(accepted_text) if isinstance(accepted_text, str) else None
    if accepted is None or not isinstance(accepted_text, str):
        raise _envelope(pointer + "/zjx:accepted", "must be an RFC 3339 time")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise _envelope(pointer + "/zjx:seq", "must be a non-negative integer")
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise _envelope(pointer + "/zjx:recipients", "must be a list of department ids")
    return GatewayFact(gateway, accepted, accepted_text, seq, tuple(recipients))


def _check_gateway_kid(kid: str, fact: GatewayFact, gateway_id: str | None) -> None:
    owner, _ = split_kid(kid)
    expected = gateway_id if gateway_id is not None else fact.gateway
    if fact.gateway != expected or owner != expected:
        raise SourceMismatchError(
            f"the countersignature is not by the gateway {expected}",
            violations=[Violation("/signatures/1/protected/kid", "not a gateway key")],
        )


@dataclass(frozen=True, slots=True)
class Verified:
    """A delivered message whose origin signature and gateway countersignature both hold."""

    message: SignedMessage
    event: CloudEvent
    origin: str
    gateway: str
    accepted_at: datetime
    seq: int
    recipients: tuple[str, ...]


def verify_all(
    body: bytes,
    resolver: KeyResolver,
    at: datetime,
    *,
    gateway_id: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Verified:
    """For recipients: parse a countersigned message and verify both signatures.

    ``gateway_id`` is required: without it a department key from the same JWKS could pose
    as a gateway. The gateway's key must be usable at ``at``; the origin's key is checked at
    the acceptance time the (verified) gateway signature asserts, so a department key that
    rotated out after acceptance does not fail deliveries retried later."""
    message = SignedMessage.parse(body, max_bytes=max_bytes)
    if len(message.signatures) != 2:
        raise _envelope(
            "/signatures", "a delivered message carries the origin's and the gateway's signature"
        )
    gw = message.signatures[1]
    fact = _gateway_fact(gw.header, "/signatures/1/protected")
    _check_gateway_kid(gw.kid, fact, gateway_id)
    message.verify_signature(1, resolver, at)
    origin = message.verify_origin(resolver, fact.accepted_at)
    return Verified(
        message=message,
        event=message.event,
        origin=origin,
        gateway=fact.gateway,
        accepted_at=fact.accepted_at,
        seq=fact.seq,
        recipients=fact.recipients,
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    id: str
    source: str
    sequence: int
    payload_digest: str
    accepted_at: datetime
    recipients: tuple[str, ...]
    gateway: str
    digest: DigestName = "sha256"

    @property
    def payload_sha256(self) -> str | None:
        return self.payload_digest if self.digest == "sha256" else None


def make_receipt(
    message: SignedMessage, gateway_signature: dict[str, Any], digest: DigestName = "sha256"
) -> bytes:
    """The sender's receipt: the gateway countersignature plus the facts it signs, readable
    without decoding. It proves acceptance together with the payload (``verify_receipt``).
    The payload digest is ``payload_sha256`` or, where the deployment chose SM3,
    ``payload_sm3`` (``[crypto] digest``; docs/decisions.md)."""
    header, _ = decode_protected(gateway_signature.get("protected"), "/signature/protected")
    fact = _gateway_fact(header, "/signature/protected")
    return orjson.dumps(
        {
            "id": message.event.id,
            "source": message.event.source,
            "sequence": fact.seq,
            f"payload_{digest}": message.payload_digest(digest),
            "accepted_at": fact.accepted_at_text,
            "recipients": list(fact.recipients),
            "gateway": fact.gateway,
            "signature": {
                "protected": gateway_signature["protected"],
                "signature": gateway_signature["signature"],
            },
        }
    )


def verify_receipt(
    receipt: bytes,
    payload: bytes,
    resolver: KeyResolver,
    *,
    gateway_id: str | None = None,
    at: datetime | None = None,
) -> Receipt:
    """Check that ``receipt`` is the gateway's countersignature over ``payload`` and that
    its readable fields say what the signature says. The gateway key is checked at ``at``
    (default: the acceptance time the receipt states)."""
    doc = strict_json.loads(receipt, max_bytes=64 * 1024, max_depth=4)
    if not isinstance(doc, dict):
        raise _envelope("", "a receipt is a JSON object")
    sig = doc.get("signature")
    if not isinstance(sig, dict) or not isinstance(sig.get("signature"), str):
        raise _envelope("/signature", "must be an object with protected and signature")
    header, alg = decode_protected(sig.get("protected"), "/signature/protected")
    fact = _gateway_fact(header, "/signature/protected")
    _check_gateway_kid(header["kid"], fact, gateway_id)
    signature = b64url_decode(sig["signature"], "/signature/signature")
    record = resolver.resolve(header["kid"], at if at is not None else fact.accepted_at)
    verify_segments(sig["protected"], b64url_encode(payload), signature, alg, record.key)
    event = parse_event(payload)
    digest_name = _receipt_digest(doc)
    digest = hexdigest(digest_name, payload)
    expected: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "sequence": fact.seq,
        f"payload_{digest_name}": digest,
        "accepted_at": fact.accepted_at_text,
        "recipients": list(fact.recipients),
        "gateway": fact.gateway,
    }
    for name, value in expected.items():
        if doc.get(name) != value or (name == "sequence" and isinstance(doc.get(name), bool)):
            raise MessageError(
                f"the receipt's '{name}' does not match what the gateway signed",
                problem=RECEIPT_MISMATCH,
                violations=[Violation("/" + name, "does not match the signed fact")],
            )
    return Receipt(
        id=event.id,
        source=event.source,
        sequence=fact.seq,
        payload_digest=digest,
        digest=digest_name,
        accepted_at=fact.accepted_at,
        recipients=fact.recipients,
        gateway=fact.gateway,
    )


def _receipt_digest(doc: dict[str, Any]) -> DigestName:
    """Which digest a receipt states: exactly one of ``payload_sha256``, ``payload_sm3``."""
    present: list[DigestName] = [n for n in DIGESTS if f"payload_{n}" in doc]
    if len(present) != 1:
        raise _envelope("", "a receipt carries exactly one of payload_sha256, payload_sm3")
    return present[0]
