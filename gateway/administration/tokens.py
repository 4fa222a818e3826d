"""Administrator tokens: bearer tokens with a role, kept as SHA-256 hashes; the clear token
is shown once. The bootstrap token lives in ``<data-dir>/admin-tokens.json``; tokens made
through the API (``POST /admin/v1/tokens``) and revocations live in the administration
overlay, so every instance on a shared store knows them as soon as it takes the change.

Roles: an ``auditor`` reads, an ``operator`` also handles dead letters, an ``admin`` also
changes departments, keys and routes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import orjson

from gateway.files import create_private, replace_private
from gateway.problem_types import ADMIN_TOKEN_INVALID, ROLE_FORBIDDEN
from gateway.problems import ForbiddenError

if TYPE_CHECKING:
    from gateway.administration.overlay import AdminState

ROLES: Final = ("admin", "operator", "auditor")
READ_ROLES: Final = frozenset(ROLES)
WRITE_ROLES: Final = frozenset({"admin", "operator"})
AUDIT_ROLES: Final = frozenset({"admin", "auditor"})
ADMIN_ONLY: Final = frozenset({"admin"})


@dataclass(frozen=True, slots=True)
class AdminToken:
    name: str
    role: str
    sha256: str


class AdminTokens:
    """The token file of one data directory (shared by the instances that use it), and the
    tokens the overlay in force adds or revokes (``issued``: the overlay now)."""

    def __init__(self, path: Path, issued: Callable[[], AdminState] | None = None) -> None:
        self.path = path
        self._tokens: list[AdminToken] = self._read() if path.exists() else []
        self._issued = issued

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

    def identify(self, token: str) -> AdminToken | None:
        digest = _digest(token)
        for candidate in self.usable():
            if hmac.compare_digest(candidate.sha256, digest):
                return candidate
        return None

    def usable(self) -> Iterator[AdminToken]:
        """Every token that is not revoked: the file's, then those made through the API."""
        state = self._issued() if self._issued is not None else None
        revoked = state.revoked_tokens if state is not None else frozenset()
        for token in self._tokens:
            if token.name not in revoked:
                yield token
        for name, record in (state.tokens if state is not None else {}).items():
            if name not in revoked:
                yield AdminToken(name, record["role"], record["sha256"])

    def file_tokens(self) -> tuple[AdminToken, ...]:
        """The data directory's own tokens (the bootstrap token), revoked or not."""
        return tuple(self._tokens)

    def names(self) -> set[str]:
        """Every name ever given, revoked ones included (a name is never reused)."""
        state = self._issued() if self._issued is not None else None
        issued = set(state.tokens) if state is not None else set()
        return {t.name for t in self._tokens} | issued

    def holder(self, name: str, sha256_prefix: str) -> AdminToken | None:
        """The usable token named ``name`` whose hash starts with ``sha256_prefix`` (16 hex
        digits, what a console session remembers of the token it was opened with)."""
        for candidate in self.usable():
            if candidate.name == name and hmac.compare_digest(
                candidate.sha256[: len(sha256_prefix)], sha256_prefix
            ):
                return candidate
        return None

    def require(self, token: str, roles: frozenset[str]) -> AdminToken:
        """The token's holder if its role is one of ``roles``; otherwise 403."""
        found = self.identify(token)
        if found is None:
            raise ForbiddenError("not an administrator token", problem=ADMIN_TOKEN_INVALID)
        if found.role not in roles:
            raise ForbiddenError(f"role {found.role!r} may not do this", problem=ROLE_FORBIDDEN)
        return found

    def _read(self) -> list[AdminToken]:
        raw = orjson.loads(self.path.read_bytes())
        return [AdminToken(t["name"], t["role"], t["sha256"]) for t in raw]

    def _save(self) -> None:
        """Replace the file whole, so an instance starting meanwhile never reads half of it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_private(self.path, _dump(self._tokens))


def bootstrap(
    data_dir: Path, issued: Callable[[], AdminState] | None = None
) -> tuple[AdminTokens, bool]:
    """The data directory's tokens, with a bootstrap admin token made on the first start
    (its clear text written to ``admin-token``, mode 0600, whole or not at all). True when
    this call made it. ``issued`` gives the overlay in force (tokens made or revoked through
    the API)."""
    tokens = AdminTokens(data_dir / "admin-tokens.json", issued)
    clear = tokens.ensure_bootstrap()
    if clear is not None:
        replace_private(data_dir / "admin-token", (clear + "\n").encode())
    return tokens, clear is not None


def new_token() -> tuple[str, str]:
    """A new clear token (256 random bits, URL-safe) and its SHA-256 hash."""
    clear = secrets.token_urlsafe(32)
    return clear, _digest(clear)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _dump(tokens: list[AdminToken]) -> bytes:
    return orjson.dumps([asdict(t) for t in tokens])
