"""Where at-rest keys come from: the ``KeyRing`` protocol, a key file, and a memory ring.

A key ring has one active key (new records are sealed with it) and may hold older ones
(records sealed with them still open until re-encryption has moved them to the active key).

The key file is JSON, mode 0600, written whole or not at all (``gateway.files``)::

    {"active": "2026b", "keys": {"2026a": "<16 bytes, base64url>", "2026b": "..."}}

An external KMS plugs in by implementing ``KeyRing`` (``active`` and ``get``), for example by
unwrapping data keys with the KMS's master key at start-up: the gateway never needs more.
In production the keys live in a certified cryptographic module (docs/miping.md).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any, Protocol

import orjson
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

from gateway.encryption.errors import KeyRingError, UnknownRecordKeyError
from gateway.files import create_private, replace_private

__all__ = ["KEY_BYTES", "FileKeyRing", "KeyRing", "MemoryKeyRing"]

KEY_BYTES = 16  # SM4 keys are 128 bits (GM/T 0002-2012 5.1)
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class KeyRing(Protocol):
    def active(self) -> tuple[str, bytes]:
        """(key id, 16-byte key) that new records are sealed with."""
        ...

    def get(self, key_id: str) -> bytes:
        """The 16-byte key with ``key_id``, or ``UnknownRecordKeyError``."""
        ...

    def refresh(self) -> bool:
        """Look at the source again (a rotated file, a KMS); True if the active key changed."""
        ...


class MemoryKeyRing:
    """A key ring held in memory (tests, and the shape a KMS adapter fills in)."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        self._keys: dict[str, bytes] = {}
        self._active = ""
        self._replace(keys, active)

    def active(self) -> tuple[str, bytes]:
        return self._active, self._keys[self._active]

    def get(self, key_id: str) -> bytes:
        key = self._keys.get(key_id)
        if key is None:
            raise UnknownRecordKeyError(f"no at-rest key {key_id!r} in the key ring")
        return key

    def ids(self) -> list[str]:
        return sorted(self._keys)

    def refresh(self) -> bool:
        return False

    def _replace(self, keys: dict[str, bytes], active: str) -> None:
        for key_id, key in keys.items():
            _check(key_id, key)
        if active not in keys:
            raise KeyRingError(f"the active key {active!r} is not in the key ring")
        self._keys, self._active = dict(keys), active


def _check(key_id: str, key: bytes) -> None:
    if KEY_ID.fullmatch(key_id) is None:
        raise KeyRingError(f"the at-rest key id {key_id[:64]!r} is not letters, digits, . _ -")
    if len(key) != KEY_BYTES:
        raise KeyRingError(f"the at-rest key {key_id!r} is not {KEY_BYTES} bytes")


class FileKeyRing(MemoryKeyRing):
    """A key ring read from a key file (see the module docstring for its form)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = _stamp(path)
        active, keys = _read(path)
        super().__init__(keys, active)

    def refresh(self) -> bool:
        """Re-read the file if it changed (``rotate`` by another process: the CLI)."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return False
        before = self._active
        active, keys = _read(self.path)
        self._replace(keys, active)
        self._stamp = stamp
        return active != before

    @staticmethod
    def generate(path: Path, key_id: str = "k1") -> FileKeyRing:
        """Create a key file with one fresh key; ``FileExistsError`` if the file exists."""
        _check(key_id, bytes(KEY_BYTES))
        if not create_private(path, _dump(key_id, {key_id: secrets.token_bytes(KEY_BYTES)})):
            raise FileExistsError(path)
        return FileKeyRing(path)

    def rotate(self, key_id: str) -> FileKeyRing:
        """Add a fresh key ``key_id``, make it active, and rewrite the file (old keys stay
        until re-encryption has moved every record; then ``retire`` them)."""
        keys = {k: self.get(k) for k in self.ids()}
        if key_id in keys:
            raise KeyRingError(f"the key ring already holds a key {key_id!r}")
        _check(key_id, bytes(KEY_BYTES))
        keys[key_id] = secrets.token_bytes(KEY_BYTES)
        replace_private(self.path, _dump(key_id, keys))
        return FileKeyRing(self.path)

    def retire(self, key_id: str) -> FileKeyRing:
        """Drop an old key from the file (never the active one)."""
        if key_id == self.active()[0]:
            raise KeyRingError("the active key cannot be retired; rotate first")
        keys = {k: self.get(k) for k in self.ids() if k != key_id}
        replace_private(self.path, _dump(self.active()[0], keys))
        return FileKeyRing(self.path)


def _stamp(path: Path) -> tuple[int, int, int]:
    """What tells a rewritten key file (``replace_private`` makes a new inode)."""
    try:
        st = path.stat()
    except OSError:
        return (0, 0, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _dump(active: str, keys: dict[str, bytes]) -> bytes:
    encoded = {k: urlsafe_b64encode(v).decode("ascii") for k, v in keys.items()}
    return orjson.dumps({"active": active, "keys": encoded}, option=orjson.OPT_INDENT_2) + b"\n"


def _read(path: Path) -> tuple[str, dict[str, bytes]]:
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyRingError(f"{path}: at-rest key file not found") from None
    except OSError as exc:
        raise KeyRingError(f"{path}: cannot read the at-rest key file: {exc.strerror}") from None
    if mode & 0o077 and os.name == "posix":
        raise KeyRingError(f"{path}: the at-rest key file is readable by others; chmod 600 it")
    try:
        doc: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise KeyRingError(f"{path}: not JSON (expected an at-rest key ring)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
        raise KeyRingError(f"{path}: expected {{'active': ..., 'keys': {{id: key}}}}")
    active = doc.get("active")
    if not isinstance(active, str):
        raise KeyRingError(f"{path}: 'active' must name one of the keys")
    keys: dict[str, bytes] = {}
    for key_id, value in doc["keys"].items():
        try:
            keys[key_id] = urlsafe_b64decode(value.encode("ascii"))
        except (ValueError, TypeError, AttributeError):
            raise KeyRingError(f"{path}: the key {key_id[:64]!r} is not base64url") from None
    return active, keys
