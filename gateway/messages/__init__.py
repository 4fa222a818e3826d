"""Message format and signing (DESIGN section 3): strict JSON, CloudEvents, JWS General JSON
Serialization, the gateway countersignature and receipts."""

from gateway.messages.event import CloudEvent, build_event, parse_event, schema_id
from gateway.messages.jws import ACCEPTED_ALGORITHMS, GATEWAY_HEADERS
from gateway.messages.message import (
    MEDIA_TYPE,
    Receipt,
    Signature,
    SignedMessage,
    Verified,
    countersign,
    make_receipt,
    sign_message,
    verify_all,
    verify_receipt,
)
from gateway.messages.strict_json import loads as strict_loads

__all__ = [
    "ACCEPTED_ALGORITHMS",
    "GATEWAY_HEADERS",
    "MEDIA_TYPE",
    "CloudEvent",
    "Receipt",
    "Signature",
    "SignedMessage",
    "Verified",
    "build_event",
    "countersign",
    "make_receipt",
    "parse_event",
    "schema_id",
    "sign_message",
    "strict_loads",
    "verify_all",
    "verify_receipt",
]
