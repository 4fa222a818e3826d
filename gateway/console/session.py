"""Console sessions and CSRF tokens, kept in a signed cookie rather than in memory.

Why a signed cookie: several gateway instances behind one load balancer share the data
directory, so a session any instance issued is good on all of them without a session table.
The cookie carries the administrator token's name, the first 16 hex digits of the token's
SHA-256 (so a token revoked, or re-issued under the same name, ends its sessions), the
session id, when it was issued and when it expires, all under an HMAC-SHA256 with a 32-byte
secret made once in ``<data-dir>/console-secret`` (mode 0600, created atomically).

It is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it),
``Path=/console/``, and ``Secure`` when the request came over TLS. A session expires 30
minutes after the last page it served (each page renews it) and at most 8 hours after login
(OWASP Session Management Cheat Sheet: idle and absolute timeouts). Logging out clears the
cookie and ends the session id on this instance.

CSRF (OWASP CSRF Prevention Cheat Sheet, "synchronizer token" and "HMAC based token"): every
form that changes something carries ``csrf`` = HMAC(secret, "csrf:" + session id); the login
form, before there is a session, carries HMAC(secret, "login:" + a nonce in its own cookie).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.files import create_private

COOKIE = "zjx_console"
LOGIN_COOKIE = "zjx_console_login"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 8 * 3600
SECRET_FILE = "console-secret"  # noqa: S105  # a file name, not a secret


@dataclass(frozen=True, slots=True)
class Session:
    name: str  # the administrator token's name
    token_hash: str  # the first 16 hex digits of its SHA-256
    sid: str
    issued: int  # Unix seconds
    expires: int


def load_secret(data_dir: Path) -> bytes:
    """The data directory's console secret, made on first use (one winner among instances)."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        create_private(path, secrets.token_bytes(32))
    secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError(f"{path}: the console secret must be at least 32 bytes")
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues and checks session cookies and CSRF tokens under one secret."""

    def __init__(self, secret: bytes, now: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._now = now
        self._ended: dict[str, int] = {}  # sid -> when its cookie would have expired

    def _mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}:{text}".encode(), hashlib.sha256).digest())

    def issue(self, name: str, token_sha256: str) -> tuple[Session, str]:
        now = int(self._now())
        session = Session(name, token_sha256[:16], secrets.token_urlsafe(16), now, now)
        return self.renew(session)

    def renew(self, session: Session) -> tuple[Session, str]:
        """The session with its idle expiry moved on, and its cookie value."""
        expires = min(int(self._now()) + IDLE_SECONDS, session.issued + ABSOLUTE_SECONDS)
        renewed = Session(session.name, session.token_hash, session.sid, session.issued, expires)
        payload = _b64(
            orjson.dumps(
                [renewed.name, renewed.token_hash, renewed.sid, renewed.issued, renewed.expires]
            )
        )
        return renewed, f"{payload}.{self._mac('session', payload)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, if its MAC holds and it has not expired or ended."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac("session", payload)):
            return None
        try:
            name, token_hash, sid, issued, expires = orjson.loads(_unb64(payload))
            session = Session(str(name), str(token_hash), str(sid), int(issued), int(expires))
        except (ValueError, TypeError):
            return None
        if session.expires <= self._now() or session.sid in self._ended:
            return None
        return session

    def end(self, session: Session) -> None:
        now = self._now()
        self._ended = {sid: at for sid, at in self._ended.items() if at > now}
        self._ended[session.sid] = session.expires

    def ended(self, session: Session) -> bool:
        return session.sid in self._ended

    def csrf(self, session: Session) -> str:
        return self._mac("csrf", session.sid)

    def csrf_holds(self, session: Session, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf(session).encode())

    def login_nonce(self) -> tuple[str, str]:
        """A nonce for the login form's cookie and the CSRF token that goes with it."""
        nonce = secrets.token_urlsafe(16)
        return nonce, self._mac("login", nonce)

    def login_csrf_holds(self, nonce: str, given: str) -> bool:
        return bool(nonce) and hmac.compare_digest(
            given.encode(), self._mac("login", nonce).encode()
        )
