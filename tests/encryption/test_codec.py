"""SM4-GCM records: the standard vectors, a fresh nonce per record, the record id bound as
associated data, and a wrong key or a tampered record as a clear error, never garbage."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import gmssl_pyx
import pytest
from tongsuopy.crypto.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto.ciphers.aead import SM4GCM

from gateway.encryption import (
    FileKeyRing,
    KeyRingError,
    MemoryKeyRing,
    RecordCodec,
    RecordDecryptError,
    UnknownRecordKeyError,
    is_sealed,
)
from gateway.encryption.codec import MAGIC, NONCE_BYTES, key_id_of

VECTORS = json.loads((Path(__file__).parents[1] / "trust/vectors/national.json").read_text())
BODY = '{"name":"张三","id_number":"330784199001011234","diagnosis":"左桡骨远端骨折"}'.encode()


def _codec(active: str = "k1") -> RecordCodec:
    return RecordCodec(MemoryKeyRing({"k1": b"\x01" * 16, "k2": b"\x02" * 16}, active))


def test_sm4_and_sm4_gcm_match_the_published_vectors() -> None:
    block = VECTORS["sm4"]
    encryptor = Cipher(algorithms.SM4(bytes.fromhex(block["key"])), modes.ECB()).encryptor()
    out = encryptor.update(bytes.fromhex(block["plaintext"])) + encryptor.finalize()
    assert out.hex() == block["ciphertext"]
    gcm = VECTORS["sm4_gcm"]
    key, nonce, aad = (bytes.fromhex(gcm[k]) for k in ("key", "nonce", "aad"))
    sealed = SM4GCM(key).encrypt(nonce, bytes.fromhex(gcm["plaintext"]), aad)
    assert sealed.hex() == gcm["ciphertext"] + gcm["tag"]
    # GmSSL, the second implementation, agrees on the same vector
    ciphertext, tag = gmssl_pyx.sm4_gcm_encrypt(key, nonce, aad, bytes.fromhex(gcm["plaintext"]))
    assert (ciphertext + tag).hex() == gcm["ciphertext"] + gcm["tag"]


def test_a_record_round_trips_with_a_fresh_nonce_and_no_clear_text() -> None:
    codec = _codec()
    first, second = codec.seal(BODY, "message/1"), codec.seal(BODY, "message/1")
    assert is_sealed(first) and first != second  # fresh nonce each time
    header = len(MAGIC) + 1 + len("k1")
    assert first[header : header + NONCE_BYTES] != second[header : header + NONCE_BYTES]
    for needle in ("330784199001011234", "张三", "左桡骨"):
        assert needle.encode() not in first
    assert codec.open(first, "message/1") == BODY
    assert key_id_of(first) == "k1" and key_id_of(BODY) is None
    assert codec.open(BODY, "message/1") == BODY  # a record from before encryption


def test_a_record_moved_to_another_id_or_changed_fails_by_name() -> None:
    codec = _codec()
    sealed = codec.seal(BODY, "case/C-1")
    with pytest.raises(RecordDecryptError, match="case/C-2"):
        codec.open(sealed, "case/C-2")
    for index in (len(sealed) - 1, len(sealed) // 2, len(MAGIC) + 3 + 1):
        changed = bytearray(sealed)
        changed[index] ^= 0x40
        with pytest.raises(RecordDecryptError) as caught:
            codec.open(bytes(changed), "case/C-1")
        assert "张三" not in caught.value.detail and "case/C-1" in caught.value.detail
    with pytest.raises(RecordDecryptError, match="truncated"):
        codec.open(sealed[:20], "case/C-1")


def test_a_wrong_key_is_a_clear_error() -> None:
    sealed = _codec().seal(BODY, "message/7")
    other = RecordCodec(MemoryKeyRing({"k1": b"\x09" * 16}, "k1"))
    with pytest.raises(RecordDecryptError, match="another key under that id"):
        other.open(sealed, "message/7")
    missing = RecordCodec(MemoryKeyRing({"k9": b"\x01" * 16}, "k9"))
    with pytest.raises(UnknownRecordKeyError, match="'k1'"):
        missing.open(sealed, "message/7")


def test_rotation_keeps_old_records_readable_and_marks_them(tmp_path: Path) -> None:
    path = tmp_path / "at-rest.keys"
    ring = FileKeyRing.generate(path, "2026a")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    old = RecordCodec(ring).seal(BODY, "message/1")
    rotated = ring.rotate("2026b")
    codec = RecordCodec(rotated)
    assert codec.needs_sealing(old) and codec.needs_sealing(BODY)
    resealed = codec.seal(codec.open(old, "message/1"), "message/1")
    assert key_id_of(resealed) == "2026b" and not codec.needs_sealing(resealed)
    retired = RecordCodec(rotated.retire("2026a"))
    assert retired.open(resealed, "message/1") == BODY
    with pytest.raises(UnknownRecordKeyError):
        retired.open(old, "message/1")
    with pytest.raises(KeyRingError, match="active key cannot be retired"):
        FileKeyRing(path).retire("2026b")


def test_bad_key_files_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ring.keys"
    with pytest.raises(KeyRingError, match="not found"):
        FileKeyRing(path)
    for content, reason in (
        (b"[]", "expected"),
        (b'{"active": "a", "keys": {"a": "AAAA"}}', "not 16 bytes"),
        (b'{"active": "b", "keys": {"a": "AQEBAQEBAQEBAQEBAQEBAQ"}}', "not in the key ring"),
        (b"{", "not JSON"),
    ):
        path.write_bytes(content)
        path.chmod(0o600)
        with pytest.raises(KeyRingError, match=reason):
            FileKeyRing(path)
    path.chmod(0o644)
    with pytest.raises(KeyRingError, match="chmod 600"):
        FileKeyRing(path)


def test_a_record_another_instance_resealed_after_rotation_still_opens(tmp_path: Path) -> None:
    """Two gateway instances share a store and the key file. ``gateway keys at-rest rotate``
    rewrites the file; the instance whose re-sealing pass looks first seals records under the
    new key, and the other one must still read them before its own pass comes round."""
    path = tmp_path / "at-rest.keys"
    FileKeyRing.generate(path, "2026a")
    first, second = RecordCodec(FileKeyRing(path)), RecordCodec(FileKeyRing(path))
    FileKeyRing(path).rotate("2026b")
    assert first.keyring.refresh() is True
    resealed = first.seal(BODY, "message/1")
    assert key_id_of(resealed) == "2026b"
    assert second.open(resealed, "message/1") == BODY
    assert second.keyring.active()[0] == "2026b"  # it took the rotated file on the way
    stranger = RecordCodec(MemoryKeyRing({"k9": b"\x09" * 16}, "k9"))
    with pytest.raises(UnknownRecordKeyError, match="'2026b'"):
        stranger.open(resealed, "message/1")
