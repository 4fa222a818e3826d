"""Keys: the gateway's signing key, the departments' public keys, and the JWKS (DESIGN 4).

A department never holds another department's key; the gateway never holds a department's
private key. So the registry only ever holds public JWKs (``d`` is refused at add time), and
``SigningKey`` (a private key) is what an adapter or the gateway itself loads from a file.

JWK parsing, key generation and the signature primitives are joserfc's (cryptography
underneath) for Ed25519 and ES256, and Tongsuo's for SM2 (``gateway.trust.sm2``). What is
ours: the allow-list of key types (OKP/Ed25519, EC/P-256, EC/SM2), the kid convention
``<owner>/<key-name>``, validity windows and revocation.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

from gateway.clock import utc_iso
from gateway.files import create_private, replace_private
from gateway.masking import mask_text
from gateway.problems import (
    ConflictError,
    KeyExpiredError,
    KeyFileError,
    KeyMaterialError,
    KeyRevokedError,
    NotFoundError,
    UnknownKeyError,
)
from gateway.trust.sm2 import SM2Key

__all__ = [
    "ALGORITHMS",
    "KID",
    "Algorithm",
    "KeyRecord",
    "KeyRegistry",
    "KeyResolver",
    "PublicKey",
    "SigningKey",
    "alg_for_jwk",
    "algorithm_of",
    "split_kid",
]

Algorithm = Literal["Ed25519", "ES256", "SM2"]
#: the signature algorithms we sign with (``EdDSA`` is accepted on input as ``Ed25519``)
ALGORITHMS: tuple[Algorithm, ...] = ("Ed25519", "ES256", "SM2")
PublicKey = OKPKey | ECKey | SM2Key

#: ``<owner>/<key-name>``; the owner is a department id or the gateway id
KID = re.compile(r"(?P<owner>[0-9a-z][0-9a-z._-]{0,63})/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63})")

# kty/crv pairs we accept, and the algorithm each implies.
_KEY_TYPES: dict[tuple[str, str], Algorithm] = {
    ("OKP", "Ed25519"): "Ed25519",
    ("EC", "P-256"): "ES256",
    ("EC", "SM2"): "SM2",
}
# JWK members that only private keys carry (RFC 7518 6.2.2, 6.3.2; RFC 8037 2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_ALG_NAMES: dict[Algorithm, frozenset[str]] = {
    "Ed25519": frozenset({"Ed25519", "EdDSA"}),
    "ES256": frozenset({"ES256"}),
    "SM2": frozenset({"SM2"}),
}


def shown_kid(kid: str) -> str:
    """A kid from outside as an answer or a log line may show it: at most 200 characters,
    with anything shaped like personal data masked (a kid is an identifier the gateway logs
    untouched once it is known; an unknown one is whatever the caller wrote)."""
    return mask_text(kid[:200])


def split_kid(kid: str) -> tuple[str, str]:
    """``(owner, key-name)`` of a kid, or ``UnknownKeyError`` if it has not that shape."""
    m = KID.fullmatch(kid)
    if m is None:
        raise UnknownKeyError(
            "the kid must be '<department-id>/<key-name>'", extra={"kid": shown_kid(kid)}
        )
    return m["owner"], m["name"]


def alg_for_jwk(jwk: dict[str, Any]) -> Algorithm:
    """The algorithm a public or private JWK is for, or ``KeyMaterialError``."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    alg = _KEY_TYPES.get((kty, crv)) if isinstance(kty, str) and isinstance(crv, str) else None
    if alg is None:
        raise KeyMaterialError(
            f"unsupported key type kty={kty!r} crv={crv!r}; only OKP/Ed25519, EC/P-256 and EC/SM2"
        )
    declared = jwk.get("alg")
    if declared is not None and declared not in _ALG_NAMES[alg]:
        raise KeyMaterialError(f"the key's alg {declared!r} does not fit a {kty}/{crv} key")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise KeyMaterialError(f"the key's use is {use!r}; only 'sig' keys are accepted")
    return alg


def algorithm_of(key: PublicKey) -> Algorithm:
    """The one algorithm a key object is for; a key never serves another algorithm."""
    if isinstance(key, SM2Key):
        return "SM2"
    if isinstance(key, OKPKey) and key.curve_name == "Ed25519":
        return "Ed25519"
    if isinstance(key, ECKey) and key.curve_name == "P-256":
        return "ES256"
    raise KeyMaterialError(f"no accepted algorithm for a {type(key).__name__}")


def _import(jwk: dict[str, Any], alg: Algorithm) -> PublicKey:
    # ``alg``/``use``/``kid`` are checked by us; joserfc would otherwise refuse the older
    # "EdDSA" algorithm name on input against a key declared for "Ed25519".
    material = {k: v for k, v in jwk.items() if k not in ("alg", "use", "kid", "key_ops")}
    try:
        if alg == "Ed25519":
            return OKPKey.import_key(material)
        if alg == "SM2":
            return SM2Key.import_key(material)
        return ECKey.import_key(material)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise KeyMaterialError(f"the {alg} key cannot be read: {exc}") from None


# --- private signing key -------------------------------------------------------------------


class SigningKey:
    """A private signing key with its kid (``<owner>/<key-name>``)."""

    __slots__ = ("alg", "key", "kid")

    def __init__(self, kid: str, key: PublicKey) -> None:
        split_kid(kid)
        if not key.is_private:
            raise KeyMaterialError("a signing key needs the private part")
        self.kid = kid
        self.key = key
        self.alg: Algorithm = alg_for_jwk(key.as_dict(private=False))

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, alg={self.alg!r})"

    @property
    def owner(self) -> str:
        """The department (or gateway) id the kid names."""
        return split_kid(self.kid)[0]

    @classmethod
    def generate(cls, kid: str, alg: Algorithm = "Ed25519") -> SigningKey:
        if alg == "Ed25519":
            return cls(kid, OKPKey.generate_key("Ed25519", private=True))
        if alg == "ES256":
            return cls(kid, ECKey.generate_key("P-256", private=True))
        if alg == "SM2":
            return cls(kid, SM2Key.generate_key())
        raise KeyMaterialError(f"unsupported algorithm {alg!r}; use one of {ALGORITHMS}")

    def private_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=True), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the private JWK, readable by the owner only (mode 0600 from creation on).

        The file appears complete or not at all (``gateway.files``): another process loading
        it at the same moment never reads half a key. Without ``overwrite`` an existing file
        is ``FileExistsError`` and stays as it was, even when two processes save at once;
        replacing never inherits an existing file's looser mode.
        """
        target = Path(path)
        data = orjson.dumps(self.private_jwk(), option=orjson.OPT_INDENT_2) + b"\n"
        if overwrite:
            replace_private(target, data)
        elif not create_private(target, data):
            raise FileExistsError(errno.EEXIST, "the key file exists already", str(target))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SigningKey:
        """Read a private JWK file written by ``save`` (or any private OKP/Ed25519,
        EC/P-256 or EC/SM2 JWK with a ``kid``)."""
        p = Path(path)
        try:
            raw = p.read_bytes()
            mode = p.stat().st_mode
        except FileNotFoundError:
            raise KeyFileError(f"{p}: key file not found") from None
        except OSError as exc:
            raise KeyFileError(f"{p}: cannot read the key file: {exc.strerror}") from None
        if mode & 0o077:
            warnings.warn(
                f"{p}: private key file is readable by others (mode {mode & 0o777:o}); "
                "chmod 600 it",
                stacklevel=2,
            )
        try:
            jwk = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise KeyFileError(f"{p}: not a JSON file (expected a private JWK)") from None
        if not isinstance(jwk, dict):
            raise KeyFileError(f"{p}: expected a JSON object (a private JWK)")
        try:
            alg = alg_for_jwk(jwk)
        except KeyMaterialError as exc:
            raise KeyFileError(f"{p}: {exc.detail}") from None
        if "d" not in jwk:
            raise KeyFileError(f"{p}: a public key; the private key (member 'd') is needed")
        kid = jwk.get("kid")
        if not isinstance(kid, str) or KID.fullmatch(kid) is None:
            raise KeyFileError(f"{p}: the JWK needs a kid of the form '<department-id>/<name>'")
        try:
            key = _import(jwk, alg)
            return cls(kid, key)
        except KeyMaterialError as exc:
            raise KeyFileError(f"{p}: {exc.detail}") from None


# --- public keys and the registry ----------------------------------------------------------


@dataclass(frozen=True)
class KeyRecord:
    """A department's (or the gateway's) public key with its validity window."""

    kid: str
    department: str
    jwk: dict[str, Any]
    not_before: datetime
    not_after: datetime | None = None
    revoked_at: datetime | None = None
    alg: Algorithm = field(init=False)
    key: PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner, _ = split_kid_for_record(self.kid)
        if owner != self.department:
            raise KeyMaterialError(
                f"the kid {self.kid!r} names {owner!r}, not the department {self.department!r}"
            )
        alg = alg_for_jwk(self.jwk)
        private = _PRIVATE_MEMBERS & self.jwk.keys()
        if private:
            raise KeyMaterialError(
                f"the JWK carries private members {sorted(private)}; send only the public key"
            )
        jwk_kid = self.jwk.get("kid")
        if jwk_kid is not None and jwk_kid != self.kid:
            raise KeyMaterialError(f"the JWK's kid {jwk_kid!r} differs from {self.kid!r}")
        for name, when in (("not_before", self.not_before), ("not_after", self.not_after)):
            if when is not None and when.tzinfo is None:
                raise KeyMaterialError(f"{name} must be an aware datetime")
        if self.not_after is not None and self.not_after <= self.not_before:
            raise KeyMaterialError("not_after must be later than not_before")
        object.__setattr__(self, "alg", alg)
        object.__setattr__(self, "key", _import(self.jwk, alg))

    def check_usable(self, at: datetime) -> None:
        """Raise ``KeyRevokedError`` or ``KeyExpiredError`` unless usable at ``at``."""
        if self.revoked_at is not None and at >= self.revoked_at:
            raise KeyRevokedError(
                f"the key {self.kid} was revoked at {utc_iso(self.revoked_at)}",
                extra={"kid": self.kid},
            )
        if at < self.not_before:
            raise KeyExpiredError(
                f"the key {self.kid} is valid from {utc_iso(self.not_before)}",
                extra={"kid": self.kid},
            )
        if self.not_after is not None and at >= self.not_after:
            raise KeyExpiredError(
                f"the key {self.kid} expired at {utc_iso(self.not_after)}",
                extra={"kid": self.kid},
            )

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK as published: key material, kid, alg, use."""
        return {**self.key.as_dict(private=False), "kid": self.kid, "alg": self.alg, "use": "sig"}


def _parse_utc(value: Any) -> datetime | None:
    """A JWKS validity timestamp (RFC 3339 as ``utc_iso`` writes it), or None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def split_kid_for_record(kid: str) -> tuple[str, str]:
    try:
        return split_kid(kid)
    except UnknownKeyError:
        raise KeyMaterialError(
            f"the kid {kid[:200]!r} must be '<department-id>/<key-name>'"
        ) from None


class KeyResolver(Protocol):
    def resolve(self, kid: str, at: datetime) -> KeyRecord:
        """The record of ``kid`` if its key may be used at ``at``; otherwise
        ``UnknownKeyError``, ``KeyExpiredError`` or ``KeyRevokedError``."""
        ...


class KeyRegistry:
    """In-memory registry of public keys; the gateway loads it from configuration."""

    def __init__(self, records: Iterable[KeyRecord] = ()) -> None:
        self._records: dict[str, KeyRecord] = {}
        for record in records:
            self.add(record)

    def add(self, record: KeyRecord) -> None:
        existing = self._records.get(record.kid)
        if existing is not None and existing != record:
            raise ConflictError(f"a different key with kid {record.kid} is already registered")
        self._records[record.kid] = record

    def revoke(self, kid: str, at: datetime) -> KeyRecord:
        record = self._records.get(kid)
        if record is None:
            raise NotFoundError(f"no key with kid {kid}")
        if record.revoked_at is not None and record.revoked_at <= at:
            return record
        revoked = replace(record, revoked_at=at)
        self._records[kid] = revoked
        return revoked

    def expire(self, kid: str, at: datetime) -> KeyRecord:
        """End a key's validity at ``at`` (rotation with an overlap window): messages signed
        before then still verify, later ones are refused as expired."""
        record = self._records.get(kid)
        if record is None:
            raise NotFoundError(f"no key with kid {kid}")
        if record.not_after is not None and record.not_after <= at:
            return record
        expired = replace(record, not_after=max(at, record.not_before + timedelta(seconds=1)))
        self._records[kid] = expired
        return expired

    def get(self, kid: str) -> KeyRecord | None:
        return self._records.get(kid)

    def records(self) -> list[KeyRecord]:
        return sorted(self._records.values(), key=lambda r: r.kid)

    def for_department(self, department: str) -> list[KeyRecord]:
        return [r for r in self.records() if r.department == department]

    def resolve(self, kid: str, at: datetime) -> KeyRecord:
        record = self._records.get(kid)
        if record is None:
            shown = shown_kid(kid)
            raise UnknownKeyError(f"no key with kid {shown} is registered", extra={"kid": shown})
        record.check_usable(at)
        return record

    def jwks(self, at: datetime) -> dict[str, Any]:
        """The JWKS the gateway publishes: every key not revoked by ``at``, with its owner and
        validity window as ``zjx:department``, ``zjx:not_before``, ``zjx:not_after``."""
        keys = []
        for r in self.records():
            if r.revoked_at is not None and r.revoked_at <= at:
                continue
            jwk = r.public_jwk()
            jwk["zjx:department"] = r.department
            jwk["zjx:not_before"] = utc_iso(r.not_before)
            if r.not_after is not None:
                jwk["zjx:not_after"] = utc_iso(r.not_after)
            keys.append(jwk)
        return {"keys": keys}

    @classmethod
    def from_jwks(cls, document: dict[str, Any]) -> KeyRegistry:
        """A resolver for recipients, built from the gateway's published JWKS."""
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise KeyMaterialError("a JWKS is an object with a 'keys' list")
        registry = cls()
        for jwk in keys:
            if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
                raise KeyMaterialError("every JWKS entry needs a kid")
            material = {k: v for k, v in jwk.items() if not k.startswith("zjx:")}
            nbf_raw, naf_raw = jwk.get("zjx:not_before"), jwk.get("zjx:not_after")
            nbf = _parse_utc(nbf_raw)
            naf = _parse_utc(naf_raw)
            if nbf is None or (naf_raw is not None and naf is None):
                raise KeyMaterialError(f"the JWKS entry {jwk['kid']} has no usable validity window")
            owner, _ = split_kid_for_record(jwk["kid"])
            registry.add(KeyRecord(jwk["kid"], owner, material, nbf, naf))
        return registry
