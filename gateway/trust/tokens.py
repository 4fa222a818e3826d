"""Short-lived department API tokens (DESIGN 6).

A department authenticates API calls other than submission with a compact JWS JWT it signs
with its own key: header ``alg`` + ``kid``; claims ``iss`` (department id), ``aud`` (gateway
id), ``iat``, ``exp`` (at most 5 minutes after ``iat`` by default) and ``jti``. Each token is
single use: a ``jti`` seen before is refused until the token would have expired anyway.

The registered-claims checks (``exp``/``iat``/``aud`` with leeway) are joserfc's; signing and
verifying go through ``gateway.messages.jws`` so that every accepted algorithm, SM2 included,
works for tokens; the algorithm allow-list runs before any key is looked up.
"""

from __future__ import annotations

import heapq
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from gateway.clock import Clock
from gateway.problems import GatewayError, TokenError, TokenExpiredError, TokenReplayedError
from gateway.trust.keys import KeyResolver, SigningKey, split_kid

__all__ = [
    "DEFAULT_LEEWAY",
    "DEFAULT_LIFETIME",
    "MAX_LIFETIME",
    "MemoryReplayCache",
    "ReplayCache",
    "TokenVerifier",
    "VerifiedToken",
    "issue_token",
]

DEFAULT_LIFETIME = timedelta(seconds=120)
MAX_LIFETIME = timedelta(minutes=5)
DEFAULT_LEEWAY = timedelta(seconds=30)
MAX_TOKEN_LENGTH = 4096


class ReplayCache(Protocol):
    """Remembers token ids until they expire. A shared store (the database) can implement
    this for several gateway instances."""

    def add(self, key: str, expires_at: datetime) -> bool:
        """Record ``key``; False if it is already recorded and not yet expired."""
        ...


class MemoryReplayCache:
    """In-process replay cache; expired entries are pruned on every ``add``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._seen: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, key: str, expires_at: datetime) -> bool:
        now = self._clock.now()
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                when, old = heapq.heappop(self._heap)
                if self._seen.get(old) == when:
                    del self._seen[old]
            current = self._seen.get(key)
            if current is not None and current > now:
                return False
            self._seen[key] = expires_at
            heapq.heappush(self._heap, (expires_at, key))
            return True


def issue_token(
    key: SigningKey,
    gateway_id: str,
    *,
    now: datetime | None = None,
    clock: Clock | None = None,
    lifetime: timedelta = DEFAULT_LIFETIME,
    jti: str | None = None,
) -> str:
    """A token for the department owning ``key`` to call the gateway ``gateway_id``."""
    if now is None:
        if clock is None:
            raise ValueError("issue_token needs now or a clock")
        now = clock.now()
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": key.owner,
        "aud": gateway_id,
        "iat": iat,
        "exp": iat + int(lifetime.total_seconds()),
        "jti": jti if jti is not None else uuid.uuid4().hex,
    }
    # Imported here: gateway.messages imports gateway.trust.
    from gateway.messages.jws import sign_compact

    header = {"typ": "JWT", "alg": key.alg, "kid": key.kid}
    return sign_compact(header, orjson.dumps(claims), key)


def _invalid(detail: str) -> TokenError:
    return TokenError(detail)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    department: str
    replay_key: str  # department and jti: what makes a token single use
    expires: datetime  # until when the key must be remembered


class TokenVerifier:
    """Verifies department tokens; ``verify`` returns the department id."""

    def __init__(
        self,
        resolver: KeyResolver,
        gateway_id: str,
        clock: Clock,
        max_lifetime: timedelta = MAX_LIFETIME,
        *,
        leeway: timedelta = DEFAULT_LEEWAY,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        self._resolver = resolver
        self._gateway_id = gateway_id
        self._clock = clock
        self._max_lifetime = max_lifetime.total_seconds()
        self._leeway = int(leeway.total_seconds())
        self._replay: ReplayCache = (
            replay_cache if replay_cache is not None else MemoryReplayCache(clock)
        )

    def verify(self, token: str) -> str:
        """The calling department; refuses a token this instance has seen before."""
        return self.verify_token(token).department

    def verify_token(self, token: str) -> VerifiedToken:
        """As ``verify``, with what a shared replay check (several instances) needs."""
        # Imported here: gateway.messages imports gateway.trust.
        from gateway.messages import strict_json
        from gateway.messages.jws import b64url_decode, decode_protected, verify_segments

        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise _invalid("the token is missing or too long")
        parts = token.split(".")
        if len(parts) != 3:
            raise _invalid("the token is not a compact JWS (three dot-separated parts)")
        header_b64, claims_b64, sig_b64 = parts
        try:
            # Algorithm allow-list (inside decode_protected) before any key is looked at.
            header, alg = decode_protected(header_b64, "/header")
            claims = strict_json.loads(
                b64url_decode(claims_b64, "/claims"), max_bytes=4096, max_depth=4
            )
            signature = b64url_decode(sig_b64, "/signature")
        except GatewayError as exc:
            raise _invalid(f"malformed token: {exc.detail}") from None
        if not isinstance(claims, dict):
            raise _invalid("the token's claims must be a JSON object")

        kid: str = header["kid"]
        try:
            department, _ = split_kid(kid)
        except GatewayError:
            raise _invalid("the token's kid must be '<department-id>/<key-name>'") from None
        if claims.get("iss") != department:
            raise _invalid("the token's iss must be the department its kid names")

        now = self._clock.now()
        try:
            record = self._resolver.resolve(kid, now)
        except GatewayError as exc:
            raise _invalid(f"the token's key is not usable: {exc.slug}") from None
        try:
            verify_segments(header_b64, claims_b64, signature, alg, record.key)
        except GatewayError:
            raise _invalid("the token's signature does not verify") from None

        self._check_claims(claims, department, now)
        expires = datetime.fromtimestamp(claims["exp"] + self._leeway, tz=now.tzinfo)
        replay_key = f"{department}\x00{claims['jti']}"
        if not self._replay.add(replay_key, expires):
            raise TokenReplayedError("the token was already used; tokens are single use")
        return VerifiedToken(department, replay_key, expires)

    def _check_claims(self, claims: dict[str, Any], department: str, now: datetime) -> None:
        """The registered claims (joserfc, with leeway), then this gateway's own rules."""
        registry = JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=self._leeway,
            iss={"essential": True, "value": department},
            aud={"essential": True, "value": self._gateway_id},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenExpiredError("the token has expired") from None
        except JoseError as exc:
            raise _invalid(f"the token's claims are not acceptable: {exc.description}") from None
        if not isinstance(claims["aud"], str):
            raise _invalid("the token's aud must be the gateway id (a single string)")
        lifetime = claims["exp"] - claims["iat"]
        if lifetime <= 0 or lifetime > self._max_lifetime:
            raise _invalid(
                f"the token's lifetime (exp - iat) must be at most {int(self._max_lifetime)} s"
            )
        if len(claims["jti"]) > 128:
            raise _invalid("the token's jti is too long")
