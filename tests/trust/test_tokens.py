"""Department API tokens: short-lived, audience-bound, single use."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from gateway.clock import ManualClock
from gateway.messages.jws import sign_compact
from gateway.problems import AuthError, TokenError, TokenExpiredError, TokenReplayedError
from gateway.trust import (
    KeyRecord,
    KeyRegistry,
    MemoryReplayCache,
    SigningKey,
    TokenVerifier,
    issue_token,
)

NOW = datetime(2026, 7, 24, 9, 30, tzinfo=UTC)
GATEWAY = "330784.zjx"
DEPT = "330784.hrss.recognition"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture(params=["Ed25519", "SM2"])
def key(request: pytest.FixtureRequest) -> SigningKey:
    """The department's key: every token rule holds alike for Ed25519 and SM2."""
    return SigningKey.generate(f"{DEPT}/api", request.param)


@pytest.fixture
def verifier(key: SigningKey, clock: ManualClock) -> TokenVerifier:
    other = SigningKey.generate("330784.market/api", "ES256")
    reg = KeyRegistry(
        [
            KeyRecord(key.kid, DEPT, key.public_jwk(), NOW - timedelta(days=1)),
            KeyRecord(other.kid, other.owner, other.public_jwk(), NOW - timedelta(days=1)),
        ]
    )
    return TokenVerifier(reg, GATEWAY, clock)


def _signed(key: SigningKey, claims: dict[str, object]) -> str:
    """A compact JWS of ``claims`` under ``key``, in its own algorithm."""
    return sign_compact({"alg": key.alg, "kid": key.kid}, orjson.dumps(claims), key)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_valid_token_once(verifier: TokenVerifier, key: SigningKey, clock: ManualClock) -> None:
    token = issue_token(key, GATEWAY, clock=clock)
    assert verifier.verify(token) == DEPT
    with pytest.raises(TokenReplayedError) as exc:
        verifier.verify(token)
    assert exc.value.slug == "token-replayed" and exc.value.status == 401
    assert isinstance(exc.value, AuthError)


def test_es256_token(verifier: TokenVerifier, clock: ManualClock) -> None:
    market = SigningKey.generate("330784.market/api", "ES256")
    reg = KeyRegistry(
        [KeyRecord(market.kid, market.owner, market.public_jwk(), NOW - timedelta(days=1))]
    )
    assert (
        TokenVerifier(reg, GATEWAY, clock).verify(issue_token(market, GATEWAY, now=NOW))
        == "330784.market"
    )


def test_expired(verifier: TokenVerifier, key: SigningKey, clock: ManualClock) -> None:
    token = issue_token(
        key, GATEWAY, now=NOW - timedelta(minutes=3), lifetime=timedelta(seconds=120)
    )
    with pytest.raises(TokenExpiredError) as exc:  # expired 60 s ago: beyond the 30 s leeway
        verifier.verify(token)
    assert exc.value.slug == "token-expired"
    within = issue_token(
        key, GATEWAY, now=NOW - timedelta(seconds=140), lifetime=timedelta(seconds=120)
    )
    assert verifier.verify(within) == DEPT  # 20 s late: within leeway


def test_issued_in_the_future(verifier: TokenVerifier, key: SigningKey) -> None:
    with pytest.raises(TokenError):
        verifier.verify(issue_token(key, GATEWAY, now=NOW + timedelta(minutes=2)))


def test_wrong_audience(verifier: TokenVerifier, key: SigningKey) -> None:
    with pytest.raises(TokenError) as exc:
        verifier.verify(issue_token(key, "330700.zjx", now=NOW))
    assert exc.value.slug == "token-invalid"


def test_wrong_department(verifier: TokenVerifier, key: SigningKey) -> None:
    impostor = SigningKey.generate("330784.market/api")  # same kid as a registered key, other key
    with pytest.raises(TokenError, match="signature"):
        verifier.verify(issue_token(impostor, GATEWAY, now=NOW))
    # iss claiming another department than the kid
    claims = {
        "iss": "330784.market",
        "aud": GATEWAY,
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 60,
        "jti": "j",
    }
    with pytest.raises(TokenError, match="iss"):
        verifier.verify(_signed(key, claims))
    unknown = SigningKey.generate("330784.zlb/api")
    with pytest.raises(TokenError, match="unknown-key"):
        verifier.verify(issue_token(unknown, GATEWAY, now=NOW))


def test_too_long_lifetime(verifier: TokenVerifier, key: SigningKey) -> None:
    with pytest.raises(TokenError, match="lifetime"):
        verifier.verify(issue_token(key, GATEWAY, now=NOW, lifetime=timedelta(minutes=6)))
    assert (
        verifier.verify(issue_token(key, GATEWAY, now=NOW, lifetime=timedelta(minutes=5))) == DEPT
    )


def test_refused_algorithms_and_garbage(verifier: TokenVerifier, key: SigningKey) -> None:
    now = int(NOW.timestamp())
    claims = b64(
        orjson.dumps({"iss": DEPT, "aud": GATEWAY, "iat": now, "exp": now + 60, "jti": "x"})
    )
    none = f"{b64(orjson.dumps({'alg': 'none', 'kid': key.kid}))}.{claims}."
    with pytest.raises(TokenError, match="refused"):
        verifier.verify(none)
    h = b64(orjson.dumps({"alg": "HS256", "kid": key.kid}))
    secret = base64.urlsafe_b64decode(key.public_jwk()["x"] + "=")
    mac = hmac.new(secret, f"{h}.{claims}".encode(), hashlib.sha256).digest()
    with pytest.raises(TokenError, match="refused"):
        verifier.verify(f"{h}.{claims}.{b64(mac)}")
    for garbage in ("", "a.b", "a.b.c", "x" * 5000, "a.b.c.d"):
        with pytest.raises(TokenError):
            verifier.verify(garbage)


def test_missing_claims(verifier: TokenVerifier, key: SigningKey) -> None:
    now = int(NOW.timestamp())
    for claims in (
        {"iss": DEPT, "aud": GATEWAY, "iat": now, "exp": now + 60},  # no jti
        {"iss": DEPT, "aud": GATEWAY, "iat": now, "jti": "a"},  # no exp
        {"iss": DEPT, "aud": [GATEWAY, "x"], "iat": now, "exp": now + 60, "jti": "b"},
    ):
        with pytest.raises(TokenError):
            verifier.verify(_signed(key, claims))


def test_replay_cache_prunes(clock: ManualClock) -> None:
    cache = MemoryReplayCache(clock)
    assert cache.add("a", NOW + timedelta(seconds=10))
    assert not cache.add("a", NOW + timedelta(seconds=10))
    clock.advance(timedelta(seconds=11))
    assert cache.add("b", NOW + timedelta(seconds=60))
    assert len(cache) == 1
    assert cache.add("a", NOW + timedelta(seconds=60))
