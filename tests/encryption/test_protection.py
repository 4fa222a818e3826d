"""``[crypto]`` settings and what the store is handed for them."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from gateway.configuration import load_config
from gateway.configuration.model import CryptoSettings
from gateway.encryption import AtRestError, MemoryKeyRing, RecordCodec, RecordDecryptError
from gateway.encryption.protection import DEV_KEY_FILE, RecordProtection, load_protection
from gateway.packaged import default_config_dir
from gateway.problems import ConfigError
from gateway.testing import default_config


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('digest = "md5"', "crypto.digest"),
        ('at_rest = "aes"', "crypto.at_rest"),
        ("colour = 1", "colour"),
    ],
)
def test_bad_crypto_settings_name_the_place(tmp_path: Path, line: str, where: str) -> None:
    config = tmp_path / "config"
    shutil.copytree(default_config_dir(), config)
    toml = config / "gateway.toml"
    text = toml.read_text(encoding="utf-8").replace('digest = "sha256"\nat_rest = "none"', line)
    toml.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert where in caught.value.detail


def test_sm4_needs_a_key_file_outside_development(tmp_path: Path) -> None:
    config = default_config()
    production = dataclasses.replace(
        config,
        gateway=dataclasses.replace(config.gateway, dev_keys=False),
        crypto=CryptoSettings(at_rest="sm4-gcm"),
    )
    with pytest.raises(ConfigError, match="key_file is required"):
        load_protection(production, tmp_path)
    development = dataclasses.replace(config, crypto=CryptoSettings(at_rest="sm4-gcm"))
    first = load_protection(development, tmp_path)
    assert first.codec is not None and (tmp_path / DEV_KEY_FILE).exists()
    again = load_protection(development, tmp_path)  # the same ring, not a new one
    assert again.codec is not None
    assert again.codec.keyring.active() == first.codec.keyring.active()
    assert load_protection(config, tmp_path).codec is None


def test_a_sealed_record_without_the_key_ring_is_a_clear_error() -> None:
    sealed = RecordCodec(MemoryKeyRing({"k1": b"\x05" * 16}, "k1")).seal(b"{}", "case/C-9")
    with pytest.raises(AtRestError, match=r"case/C-9 is encrypted at rest.*at_rest"):
        RecordProtection().open(sealed, "case/C-9")
    assert RecordProtection().open(b"{}", "case/C-9") == b"{}"
    assert RecordProtection().seal(b"{}", "case/C-9") == b"{}"


def test_refuse_plaintext_once_everything_is_sealed(tmp_path: Path) -> None:
    config = dataclasses.replace(
        default_config(), crypto=CryptoSettings(at_rest="sm4-gcm", refuse_plaintext=True)
    )
    protection = load_protection(config, tmp_path)
    sealed = protection.seal(b'{"a":1}', "message/3")
    assert protection.open(sealed, "message/3") == b'{"a":1}'
    with pytest.raises(RecordDecryptError, match="message/3 is not sealed"):
        protection.open(b'{"a":1}', "message/3")
    lenient = load_protection(
        dataclasses.replace(config, crypto=CryptoSettings("sha256", "sm4-gcm")), tmp_path
    )
    assert lenient.open(b'{"a":1}', "message/3") == b'{"a":1}'
