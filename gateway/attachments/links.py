"""Signed, short-lived download links for push recipients (DESIGN section 11).

A push carries, per attachment the message references, an RFC 8288 ``Link`` header
``</v1/attachments/<digest>?link=<token>>; rel="attachment"``. The token is a JWT
(RFC 7519) the gateway signs with its own key: ``sub`` the digest, ``aud`` the recipient,
``exp`` when the link ends (``GATEWAY_ATTACHMENT_URL_SECONDS``, default 300 s). The gateway
verifies it with the same key (every instance holds it), so a push recipient fetches without
issuing a token of its own; the reading rule still applies at fetch time (the message must be
kept and delivered to ``aud``). After a key rotation older links fail: the recipient falls
back to its own token. The token is signed and checked by the project's compact JWS code
(``gateway.messages.jws``), so an SM2 gateway key (issue 17) signs links as any other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson

from gateway.messages.jws import sign_compact, verify_compact
from gateway.problem_types import TOKEN_EXPIRED, TOKEN_INVALID
from gateway.problems import AuthError, GatewayError
from gateway.trust import SigningKey

REL = "attachment"


def sign_link(key: SigningKey, digest: str, recipient: str, expires: datetime) -> str:
    """The path with its token for ``recipient`` to read ``digest`` until ``expires``."""
    claims = {"iss": key.owner, "sub": digest, "aud": recipient, "exp": int(expires.timestamp())}
    header = {"typ": "JWT", "alg": key.alg, "kid": key.kid}
    token = sign_compact(header, orjson.dumps(claims), key)
    return f"/v1/attachments/{digest}?link={quote(token)}"


def link_header(links: list[str]) -> str:
    return ", ".join(f'<{link}>; rel="{REL}"' for link in links)


def verify_link(token: str, key: SigningKey, digest: str, now: datetime) -> str:
    """The recipient the link was made for; ``AuthError`` when it is not this gateway's,
    not for ``digest``, or expired."""
    invalid = AuthError("the download link is not valid for this attachment", TOKEN_INVALID)
    try:
        header, payload = verify_compact(token, key.key)
        claims: Any = orjson.loads(payload)
    except (GatewayError, orjson.JSONDecodeError):
        raise invalid from None
    if not isinstance(claims, dict) or header.get("alg") != key.alg:
        raise invalid
    recipient = claims.get("aud")
    if header.get("kid") != key.kid or claims.get("sub") != digest:
        raise invalid
    if not isinstance(recipient, str) or not isinstance(claims.get("exp"), int):
        raise invalid
    if claims["exp"] <= int(now.timestamp()):
        raise AuthError("the download link has expired; fetch with a token", TOKEN_EXPIRED)
    return recipient
