"""Error roots. Each carries its RFC 9457 problem type from the catalogue.

Every domain has one exception root (``MessageError``, ``DocumentError``, ``ConfigError``,
``AuthError``, ``StoreError``) so callers can catch a whole concern at once. Every exception
that can reach a client carries a problem type (``gateway.problem_types``): its class's
``default``, or the one its raise site names (``NotFoundError(detail, KEY_NOT_FOUND)``). The
HTTP layer turns it into an ``application/problem+json`` body.

Messages must never contain personal data: they name fields and JSON Pointers, not values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from gateway import problem_types as pt
from gateway.problem_types import PROBLEM_BASE, ProblemType

__all__ = ["PROBLEM_BASE", "ProblemType"]


@dataclass(frozen=True, slots=True)
class Violation:
    """One failing place in a document: a JSON Pointer and what is wrong there."""

    pointer: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.message}


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    default: ClassVar[ProblemType] = pt.INTERNAL

    def __init__(
        self,
        detail: str,
        problem: ProblemType | None = None,
        *,
        violations: list[Violation] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problem: ProblemType = problem or self.default
        self.status = self.problem.status
        self.violations: list[Violation] = violations or []
        self.extra: dict[str, Any] = extra or {}

    @property
    def slug(self) -> str:
        return self.problem.slug

    @property
    def title(self) -> str:
        return self.problem.title

    @property
    def type_uri(self) -> str:
        return self.problem.uri

    def problem_body(self, instance: str | None = None, language: str = "en") -> dict[str, Any]:
        """The RFC 9457 body for this error, its title and detail in ``language`` ("zh" or
        English; ``ProblemType.localized``). ``type``, ``status``, ``instance`` and the
        failing pointers do not change with the language."""
        title, detail = self.problem.localized(language, self.detail)
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": title,
            "status": self.status,
            "detail": detail,
        }
        if instance:
            body["instance"] = instance
        if self.violations:
            body["errors"] = [v.as_json() for v in self.violations]
        body.update(self.extra)
        return body


class MessageError(GatewayError):
    """The message envelope is malformed or its signatures do not hold."""

    default = pt.MALFORMED_MESSAGE


class SignatureError(MessageError):
    """A signature is missing, uses a refused algorithm, or does not verify."""

    default = pt.BAD_SIGNATURE


class DocumentError(GatewayError):
    """The document (the event's ``data``) does not satisfy its schema or semantic checks."""

    default = pt.INVALID_DOCUMENT


class ConfigError(GatewayError):
    """Configuration is unusable. The message names the file, the place and the fault."""

    default = pt.CONFIGURATION


class AuthError(GatewayError):
    """The caller is not who it claims, or may not do what it asks."""

    default = pt.UNAUTHORIZED


class ForbiddenError(AuthError):
    default = pt.FORBIDDEN


class NotFoundError(GatewayError):
    default = pt.NOT_FOUND


class ConflictError(GatewayError):
    default = pt.CONFLICT


class RoutingError(GatewayError):
    default = pt.UNROUTABLE


class StoreError(GatewayError):
    """The store could not do its work (not the client's fault)."""

    default = pt.STORE_UNAVAILABLE


# --- messages and trust (gateway/messages, gateway/trust) -----------------------------------


class StrictJSONError(MessageError):
    """The bytes are not strict JSON (RFC 8259 plus the rules of DESIGN section 3)."""

    default = pt.INVALID_JSON


class BodyTooLargeError(StrictJSONError):
    default = pt.BODY_TOO_LARGE


class InvalidUTF8Error(StrictJSONError):
    default = pt.INVALID_UTF8


class ByteOrderMarkError(StrictJSONError):
    default = pt.BYTE_ORDER_MARK


class LoneSurrogateError(StrictJSONError):
    default = pt.LONE_SURROGATE


class NonFiniteNumberError(StrictJSONError):
    default = pt.NON_FINITE_NUMBER


class DuplicateKeyError(StrictJSONError):
    default = pt.DUPLICATE_KEY


class TooDeepError(StrictJSONError):
    default = pt.TOO_DEEP


class EventError(MessageError):
    """The payload is not a CloudEvents 1.0 event as DESIGN section 3 defines it."""

    default = pt.INVALID_EVENT


class EnvelopeError(MessageError):
    """The JWS General JSON Serialization envelope is malformed."""

    default = pt.INVALID_ENVELOPE


class AlgorithmRefusedError(SignatureError):
    default = pt.ALGORITHM_REFUSED


class CriticalHeaderError(SignatureError):
    default = pt.CRITICAL_HEADER_REFUSED


class UnknownKeyError(SignatureError):
    default = pt.UNKNOWN_KEY


class KeyExpiredError(SignatureError):
    default = pt.KEY_EXPIRED


class KeyRevokedError(SignatureError):
    default = pt.KEY_REVOKED


class SourceMismatchError(SignatureError):
    default = pt.SOURCE_MISMATCH


class KeyMaterialError(GatewayError):
    """A key (JWK) offered to the gateway is unusable: wrong type, curve, kid or contents."""

    default = pt.INVALID_KEY


class KeyFileError(ConfigError):
    """A private key file cannot be used. The message names the file and the fault."""

    default = pt.KEY_FILE


class TokenError(AuthError):
    default = pt.TOKEN_INVALID


class TokenExpiredError(TokenError):
    default = pt.TOKEN_EXPIRED


class TokenReplayedError(TokenError):
    default = pt.TOKEN_REPLAYED
