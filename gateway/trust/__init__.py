"""Keys, the JWKS and department API tokens (DESIGN sections 4 and 6)."""

from gateway.trust.keys import (
    ALGORITHMS,
    Algorithm,
    KeyRecord,
    KeyRegistry,
    KeyResolver,
    SigningKey,
    split_kid,
)
from gateway.trust.tokens import (
    MemoryReplayCache,
    ReplayCache,
    TokenVerifier,
    issue_token,
)

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "KeyRecord",
    "KeyRegistry",
    "KeyResolver",
    "MemoryReplayCache",
    "ReplayCache",
    "SigningKey",
    "TokenVerifier",
    "issue_token",
    "split_kid",
]
