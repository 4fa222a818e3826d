"""Signing keys on disk, key records, the registry and the JWKS."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from gateway.problems import (
    ConflictError,
    KeyExpiredError,
    KeyFileError,
    KeyMaterialError,
    KeyRevokedError,
    NotFoundError,
    UnknownKeyError,
)
from gateway.trust import KeyRecord, KeyRegistry, SigningKey

NOW = datetime(2026, 7, 24, 9, 30, tzinfo=UTC)
DEPT = "330784.health.h001"


def rec(key: SigningKey, **kw: object) -> KeyRecord:
    return KeyRecord(
        key.kid, key.owner, key.public_jwk(), kw.pop("not_before", NOW - timedelta(days=1)), **kw
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
def test_generate_save_load(tmp_path: Path, alg: str) -> None:
    key = SigningKey.generate(f"{DEPT}/k1", alg)  # type: ignore[arg-type]
    path = tmp_path / "k.jwk"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = SigningKey.load(path)
    assert loaded.kid == key.kid and loaded.alg == alg
    assert loaded.public_jwk() == key.public_jwk()
    pub = key.public_jwk()
    assert pub["use"] == "sig" and pub["alg"] == alg and "d" not in pub
    with pytest.raises(FileExistsError):
        key.save(path)
    other = SigningKey.generate(f"{DEPT}/k1", alg)  # type: ignore[arg-type]
    path.chmod(0o644)
    other.save(path, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SigningKey.load(path).public_jwk() == other.public_jwk()


@pytest.mark.filterwarnings("ignore:.*readable by others")
def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        SigningKey.load(tmp_path / "missing.jwk")
    bad = tmp_path / "bad.jwk"
    bad.write_bytes(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(KeyFileError, match="not a JSON"):
        SigningKey.load(bad)
    key = SigningKey.generate(f"{DEPT}/k1")
    pub = tmp_path / "pub.jwk"
    pub.write_bytes(orjson.dumps(key.public_jwk()))
    with pytest.raises(KeyFileError, match="private key"):
        SigningKey.load(pub)
    rsa = tmp_path / "rsa.jwk"
    rsa.write_bytes(
        orjson.dumps({"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB", "kid": f"{DEPT}/r"})
    )
    with pytest.raises(KeyFileError, match="unsupported key type"):
        SigningKey.load(rsa)
    x25519 = tmp_path / "x.jwk"
    x25519.write_bytes(orjson.dumps({**key.private_jwk(), "crv": "X25519", "alg": None}))
    with pytest.raises(KeyFileError, match="unsupported"):
        SigningKey.load(x25519)
    nokid = tmp_path / "nokid.jwk"
    nokid.write_bytes(orjson.dumps({k: v for k, v in key.private_jwk().items() if k != "kid"}))
    with pytest.raises(KeyFileError, match="kid"):
        SigningKey.load(nokid)


def test_world_readable_key_file_warns(tmp_path: Path) -> None:
    path = tmp_path / "k.jwk"
    SigningKey.generate(f"{DEPT}/k1").save(path)
    os.chmod(path, 0o644)
    with pytest.warns(UserWarning, match="readable by others"):
        SigningKey.load(path)


def test_record_validation() -> None:
    key = SigningKey.generate(f"{DEPT}/k1")
    with pytest.raises(KeyMaterialError, match="names"):
        KeyRecord(key.kid, "330784.police.traffic", key.public_jwk(), NOW)
    with pytest.raises(KeyMaterialError, match="private"):
        KeyRecord(key.kid, DEPT, key.private_jwk(), NOW)
    with pytest.raises(KeyMaterialError, match="unsupported"):
        KeyRecord(key.kid, DEPT, {"kty": "oct", "k": "c2VjcmV0"}, NOW)
    with pytest.raises(KeyMaterialError, match="unsupported"):
        KeyRecord(key.kid, DEPT, {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, NOW)
    with pytest.raises(KeyMaterialError, match="alg"):
        KeyRecord(key.kid, DEPT, {**key.public_jwk(), "alg": "ES256"}, NOW)
    with pytest.raises(KeyMaterialError, match="kid"):
        KeyRecord(key.kid, DEPT, {**key.public_jwk(), "kid": f"{DEPT}/other"}, NOW)
    with pytest.raises(KeyMaterialError):
        KeyRecord("no-slash", DEPT, key.public_jwk(), NOW)
    with pytest.raises(KeyMaterialError):
        KeyRecord(key.kid, DEPT, {**key.public_jwk(), "x": "AAAA"}, NOW)
    with pytest.raises(KeyMaterialError, match="later"):
        KeyRecord(key.kid, DEPT, key.public_jwk(), NOW, NOW)
    # the older EdDSA alg name on a key is accepted
    assert KeyRecord(key.kid, DEPT, {**key.public_jwk(), "alg": "EdDSA"}, NOW).alg == "Ed25519"


def test_registry_resolve_windows_and_revocation() -> None:
    k1 = SigningKey.generate(f"{DEPT}/k1")
    k2 = SigningKey.generate(f"{DEPT}/k2", "ES256")
    reg = KeyRegistry(
        [rec(k1, not_after=NOW + timedelta(days=1)), rec(k2, not_before=NOW + timedelta(hours=1))]
    )
    assert reg.resolve(k1.kid, NOW).kid == k1.kid
    with pytest.raises(KeyExpiredError):
        reg.resolve(k1.kid, NOW + timedelta(days=2))
    with pytest.raises(KeyExpiredError):
        reg.resolve(k2.kid, NOW)
    assert reg.resolve(k2.kid, NOW + timedelta(hours=2)).alg == "ES256"
    with pytest.raises(UnknownKeyError):
        reg.resolve(f"{DEPT}/nope", NOW)
    reg.revoke(k1.kid, NOW)
    with pytest.raises(KeyRevokedError):
        reg.resolve(k1.kid, NOW)
    assert reg.resolve(k1.kid, NOW - timedelta(seconds=1)).kid == k1.kid
    with pytest.raises(NotFoundError):
        reg.revoke(f"{DEPT}/nope", NOW)
    assert [r.kid for r in reg.for_department(DEPT)] == [k1.kid, k2.kid]
    assert reg.for_department("330784.market") == []
    reg.add(rec(k2, not_before=NOW + timedelta(hours=1)))  # the same record again: fine
    with pytest.raises(ConflictError):
        reg.add(rec(k2))


def test_jwks_excludes_revoked_and_round_trips() -> None:
    gw = SigningKey.generate("330784.zjx/gw-1")
    k1 = SigningKey.generate(f"{DEPT}/k1")
    k2 = SigningKey.generate(f"{DEPT}/k2", "ES256")
    reg = KeyRegistry([rec(gw), rec(k1, not_after=NOW + timedelta(days=90)), rec(k2)])
    reg.revoke(k2.kid, NOW - timedelta(minutes=1))
    jwks = reg.jwks(NOW)
    kids = [k["kid"] for k in jwks["keys"]]
    assert kids == ["330784.health.h001/k1", "330784.zjx/gw-1"]
    for k in jwks["keys"]:
        assert "d" not in k and k["use"] == "sig" and k["zjx:not_before"].endswith("Z")
    assert jwks["keys"][0]["zjx:not_after"] == "2026-10-22T09:30:00.000Z"
    assert jwks["keys"][0]["zjx:department"] == DEPT
    again = KeyRegistry.from_jwks(orjson.loads(orjson.dumps(jwks)))
    assert again.resolve(k1.kid, NOW).jwk["x"] == k1.public_jwk()["x"]
    with pytest.raises(KeyExpiredError):
        again.resolve(k1.kid, NOW + timedelta(days=91))
