"""One stored record sealed with SM4-GCM (GM/T 0002-2012 block cipher, GCM as in RFC 8998 and
NIST SP 800-38D), the record's id as associated data.

Sealed form, all of it bytes in the record's column::

    MAGIC (6) | key-id length (1) | key id (ASCII) | nonce (12) | ciphertext | tag (16)

``MAGIC`` starts with a zero byte, which no stored plaintext (JSON) starts with, so a store
can hold records written before encryption was turned on, and the re-encryption job can
tell which records still need it. The associated data is the header (magic and key id) and
the record id, so a record copied to another id, or given another key id, fails to open.

A fresh random 96-bit nonce per record (SP 800-38D 8.2.2): under one key at most 2^32
records may be sealed (8.3); rotation (``gateway.encryption.rotation``) starts a new key long
before. SM4-GCM itself is Tongsuo's, through ``tongsuopy`` (docs/decisions.md).
"""

from __future__ import annotations

import os

from tongsuopy.crypto.ciphers.aead import SM4GCM
from tongsuopy.crypto.exceptions import InvalidTag

from gateway.encryption.errors import RecordDecryptError, UnknownRecordKeyError
from gateway.encryption.keyring import KeyRing

__all__ = ["MAGIC", "NONCE_BYTES", "TAG_BYTES", "RecordCodec", "is_sealed", "key_id_of"]

MAGIC = b"\x00sm4g1"
NONCE_BYTES = 12
TAG_BYTES = 16


def is_sealed(blob: bytes) -> bool:
    """Whether ``blob`` is in the sealed form (else it is a plaintext record)."""
    return blob.startswith(MAGIC)


def _split(blob: bytes, record_id: str) -> tuple[bytes, str, bytes, bytes]:
    """(header, key id, nonce, ciphertext with tag) of a sealed blob."""
    at = len(MAGIC)
    if len(blob) < at + 1:
        raise RecordDecryptError(f"the stored record {record_id} is truncated")
    end = at + 1 + blob[at]
    if len(blob) < end + NONCE_BYTES + TAG_BYTES:
        raise RecordDecryptError(f"the stored record {record_id} is truncated")
    try:
        key_id = blob[at + 1 : end].decode("ascii")
    except UnicodeDecodeError:
        raise RecordDecryptError(f"the stored record {record_id} has a garbled key id") from None
    return blob[:end], key_id, blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :]


def key_id_of(blob: bytes, record_id: str = "?") -> str | None:
    """The key id a sealed record names; None for a plaintext record."""
    return _split(blob, record_id)[1] if is_sealed(blob) else None


class RecordCodec:
    """Seals and opens records with the keys of ``keyring``; new records use its active key."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    def seal(self, plaintext: bytes, record_id: str) -> bytes:
        """The sealed form of ``plaintext`` for the record ``record_id`` (e.g. ``message/42``)."""
        key_id, key = self._keyring.active()
        raw_id = key_id.encode("ascii")
        header = MAGIC + bytes([len(raw_id)]) + raw_id
        nonce = os.urandom(NONCE_BYTES)
        sealed: bytes = SM4GCM(key).encrypt(nonce, plaintext, header + record_id.encode())
        return header + nonce + sealed

    def open(self, blob: bytes, record_id: str) -> bytes:
        """The plaintext of the record ``record_id``; a plaintext record comes back as it is.
        ``UnknownRecordKeyError`` or ``RecordDecryptError`` otherwise, never garbage."""
        if not is_sealed(blob):
            return blob
        header, key_id, nonce, sealed = _split(blob, record_id)
        try:
            key = self._key(key_id)
        except UnknownRecordKeyError:
            raise UnknownRecordKeyError(
                f"the stored record {record_id} is sealed under the key {key_id!r}, which the "
                "key ring does not hold (a wrong or outdated key file?)"
            ) from None
        try:
            plain: bytes = SM4GCM(key).decrypt(nonce, sealed, header + record_id.encode())
        except InvalidTag:
            raise RecordDecryptError(
                f"the stored record {record_id} does not decrypt under the key {key_id!r}: it "
                "was changed or moved, or the key file holds another key under that id"
            ) from None
        return plain

    def _key(self, key_id: str) -> bytes:
        """The key ``key_id``; a key the ring does not hold yet makes it look at its source
        once more: another instance sharing the store may have re-sealed records under a key
        that ``gateway keys at-rest rotate`` added after this ring was read."""
        try:
            return self._keyring.get(key_id)
        except UnknownRecordKeyError:
            self._keyring.refresh()
            return self._keyring.get(key_id)

    def needs_sealing(self, blob: bytes) -> bool:
        """Whether the re-encryption job should rewrite ``blob``: plaintext, or sealed under
        a key that is no longer the active one."""
        return key_id_of(blob) != self._keyring.active()[0]
