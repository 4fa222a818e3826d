"""Administrators' bearer tokens, stored as SHA-256 hashes, and their roles.

Roles: ``admin`` changes configuration; ``operator`` also handles dead letters; ``auditor``
reads. The clear token is shown once and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from aiohttp import web

from gateway.files import create_private, replace_private

ROLES = ("admin", "operator", "auditor")
#: Which role may do what: an auditor reads, an operator also handles dead letters.
READ_ROLES = frozenset(ROLES)
WRITE_ROLES = frozenset({"admin", "operator"})
ADMIN_ONLY = frozenset({"admin"})
AUDIT_ROLES = frozenset({"admin", "auditor"})


@dataclass(frozen=True, slots=True)
class AdminToken:
    name: str
    role: str
    sha256: str


class AdminTokens:
    """Tokens live in ``<data-dir>/admin-tokens.json`` as hashes; the clear token is shown once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tokens: list[AdminToken] = self._read() if path.exists() else []

    def ensure_bootstrap(self) -> str | None:
        """First start: create an admin token (or take GATEWAY_ADMIN_TOKEN) and return it.

        Instances starting together on one data directory race to create the token file.
        It is created atomically (``gateway.files``), so exactly one of them returns its
        token (and writes the clear token out); the others take the winner's file and
        return None, instead of overwriting it with a token of their own.
        """
        if self._tokens:
            return None
        token = os.environ.get("GATEWAY_ADMIN_TOKEN") or secrets.token_urlsafe(32)
        bootstrap = [AdminToken("bootstrap", "admin", _digest(token))]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if create_private(self.path, _dump(bootstrap)):
            self._tokens = bootstrap
            return token
        self._tokens = self._read()  # another instance created the file first
        if self._tokens:
            return None
        self.add("bootstrap", "admin", token)  # the file holds no token at all (emptied by hand)
        return token

    def add(self, name: str, role: str, token: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self._tokens.append(AdminToken(name, role, _digest(token)))
        self._save()

    def _read(self) -> list[AdminToken]:
        raw = orjson.loads(self.path.read_bytes())
        return [AdminToken(t["name"], t["role"], t["sha256"]) for t in raw]

    def _save(self) -> None:
        """Replace the file whole, so an instance starting meanwhile never reads half of it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_private(self.path, _dump(self._tokens))

    def holder(self, name: str, sha256_prefix: str) -> AdminToken | None:
        """The token named ``name`` whose hash starts with ``sha256_prefix`` (16 hex digits,
        what a console session remembers of the token it was opened with)."""
        for candidate in self._tokens:
            if candidate.name == name and hmac.compare_digest(
                candidate.sha256[: len(sha256_prefix)], sha256_prefix
            ):
                return candidate
        return None

    def identify(self, token: str) -> AdminToken | None:
        digest = _digest(token)
        for candidate in self._tokens:
            if hmac.compare_digest(candidate.sha256, digest):
                return candidate
        return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _dump(tokens: list[AdminToken]) -> bytes:
    return orjson.dumps([asdict(t) for t in tokens])


ADMIN_TOKENS = web.AppKey("admin_tokens", AdminTokens)
