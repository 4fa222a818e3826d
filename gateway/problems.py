"""Error roots and their RFC 9457 problem types.

Every domain has one exception root (``MessageError``, ``DocumentError``, ``ConfigError``,
``AuthError``, ``StoreError``) so callers can catch a whole concern at once. Every exception
that can reach a client carries a stable problem ``slug``: the HTTP layer turns it into an
``application/problem+json`` body with ``type`` = ``PROBLEM_BASE + slug``. Slugs are part of
the public contract: departments branch on them, so they are never renamed.

Messages must never contain personal data: they name fields and JSON Pointers, not values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_BASE = "urn:zj-exchange:problem:"


@dataclass(frozen=True, slots=True)
class Violation:
    """One failing place in a document: a JSON Pointer and what is wrong there."""

    pointer: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.message}


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    slug: str = "internal"
    title: str = "Internal error"
    status: int = 500

    def __init__(
        self,
        detail: str,
        *,
        slug: str | None = None,
        status: int | None = None,
        title: str | None = None,
        violations: list[Violation] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if slug is not None:
            self.slug = slug
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.violations: list[Violation] = violations or []
        self.extra: dict[str, Any] = extra or {}

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body for this error."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.violations:
            body["errors"] = [v.as_json() for v in self.violations]
        body.update(self.extra)
        return body


class MessageError(GatewayError):
    """The message envelope is malformed or its signatures do not hold."""

    slug = "malformed-message"
    title = "Malformed message"
    status = 400


class SignatureError(MessageError):
    """A signature is missing, uses a refused algorithm, or does not verify."""

    slug = "bad-signature"
    title = "Signature refused"
    status = 401


class DocumentError(GatewayError):
    """The document (the event's ``data``) does not satisfy its schema or semantic checks."""

    slug = "invalid-document"
    title = "Document failed validation"
    status = 422


class ConfigError(GatewayError):
    """Configuration is unusable. The message names the file, the place and the fault."""

    slug = "configuration"
    title = "Configuration error"
    status = 500


class AuthError(GatewayError):
    """The caller is not who it claims, or may not do what it asks."""

    slug = "unauthorized"
    title = "Unauthorized"
    status = 401


class ForbiddenError(AuthError):
    slug = "forbidden"
    title = "Forbidden"
    status = 403


class NotFoundError(GatewayError):
    slug = "not-found"
    title = "Not found"
    status = 404


class ConflictError(GatewayError):
    slug = "conflict"
    title = "Conflict"
    status = 409


class RoutingError(GatewayError):
    slug = "unroutable"
    title = "No recipient for this message"
    status = 422


class StoreError(GatewayError):
    """The store could not do its work (not the client's fault)."""

    slug = "store-unavailable"
    title = "Store unavailable"
    status = 503


@dataclass(slots=True)
class ProblemCatalogue:
    """Slugs in use, for documentation and the OpenAPI description."""

    slugs: dict[str, str] = field(default_factory=dict)


# --- messages and trust (gateway/messages, gateway/trust) -----------------------------------


class StrictJSONError(MessageError):
    """The bytes are not strict JSON (RFC 8259 plus the rules of DESIGN section 3)."""

    slug = "invalid-json"
    title = "Invalid JSON"


class BodyTooLargeError(StrictJSONError):
    slug = "body-too-large"
    title = "Body too large"
    status = 413


class InvalidUTF8Error(StrictJSONError):
    slug = "invalid-utf8"
    title = "Invalid UTF-8"


class ByteOrderMarkError(StrictJSONError):
    slug = "byte-order-mark"
    title = "Byte order mark not allowed"


class LoneSurrogateError(StrictJSONError):
    slug = "lone-surrogate"
    title = "Lone surrogate in a string"


class NonFiniteNumberError(StrictJSONError):
    slug = "non-finite-number"
    title = "NaN or Infinity not allowed"


class DuplicateKeyError(StrictJSONError):
    slug = "duplicate-key"
    title = "Duplicate object key"


class TooDeepError(StrictJSONError):
    slug = "too-deep"
    title = "JSON nested too deeply"


class EventError(MessageError):
    """The payload is not a CloudEvents 1.0 event as DESIGN section 3 defines it."""

    slug = "invalid-event"
    title = "Invalid event"


class EnvelopeError(MessageError):
    """The JWS General JSON Serialization envelope is malformed."""

    slug = "invalid-envelope"
    title = "Invalid JWS envelope"


class AlgorithmRefusedError(SignatureError):
    slug = "algorithm-refused"
    title = "Signature algorithm refused"


class CriticalHeaderError(SignatureError):
    slug = "critical-header-refused"
    title = "Critical header not understood"


class UnknownKeyError(SignatureError):
    slug = "unknown-key"
    title = "Unknown key"


class KeyExpiredError(SignatureError):
    slug = "key-expired"
    title = "Key outside its validity window"


class KeyRevokedError(SignatureError):
    slug = "key-revoked"
    title = "Key revoked"


class SourceMismatchError(SignatureError):
    slug = "source-mismatch"
    title = "Signer is not the event's source"
    status = 403


class KeyMaterialError(GatewayError):
    """A key (JWK) offered to the gateway is unusable: wrong type, curve, kid or contents."""

    slug = "invalid-key"
    title = "Unusable key"
    status = 422


class KeyFileError(ConfigError):
    """A private key file cannot be used. The message names the file and the fault."""

    slug = "key-file"
    title = "Unusable key file"


class TokenError(AuthError):
    slug = "token-invalid"
    title = "Invalid token"


class TokenExpiredError(TokenError):
    slug = "token-expired"
    title = "Token expired"


class TokenReplayedError(TokenError):
    slug = "token-replayed"
    title = "Token already used"
