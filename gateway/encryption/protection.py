"""What the store core does to record bytes on their way to and from the database: sealed
with SM4-GCM when ``[crypto] at_rest = "sm4-gcm"``, as they are otherwise.

One object for both cases so the store has no branch of its own, and so a store holding
sealed records that is opened without the key ring fails with a clear error instead of
handing ciphertext to a recipient.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from gateway.configuration.model import Config
from gateway.encryption.codec import RecordCodec, is_sealed
from gateway.encryption.errors import AtRestError, RecordDecryptError
from gateway.encryption.keyring import FileKeyRing
from gateway.problems import ConfigError

__all__ = ["DEV_KEY_FILE", "RecordProtection", "load_protection"]

DEV_KEY_FILE = "at-rest.keys"


class RecordProtection:
    """``seal`` / ``open`` for a record id such as ``message/42`` or ``case/C-1``."""

    def __init__(self, codec: RecordCodec | None = None, *, refuse_plaintext: bool = False) -> None:
        self.codec = codec
        self.refuse_plaintext = refuse_plaintext and codec is not None

    def seal(self, blob: bytes, record_id: str) -> bytes:
        return blob if self.codec is None else self.codec.seal(blob, record_id)

    def open(self, blob: bytes, record_id: str) -> bytes:
        if self.refuse_plaintext and not is_sealed(blob):
            raise RecordDecryptError(
                f"the stored record {record_id} is not sealed, and [crypto] refuse_plaintext "
                "is on: it was written or replaced outside the gateway"
            )
        if self.codec is not None:
            return self.codec.open(blob, record_id)
        if is_sealed(blob):
            raise AtRestError(
                f"the stored record {record_id} is encrypted at rest, but [crypto] at_rest is "
                '"none": configure at_rest = "sm4-gcm" and its key_file'
            )
        return blob

    def needs_sealing(self, blob: bytes) -> bool:
        return self.codec is not None and self.codec.needs_sealing(blob)


def load_protection(config: Config, data_dir: Path) -> RecordProtection:
    """The protection ``[crypto]`` asks for. With ``sm4-gcm``: the key ring in ``key_file``,
    or with ``dev_keys`` and no key_file a development ring in the data directory (made on
    first use); else ``ConfigError``."""
    crypto = config.crypto
    if crypto.at_rest == "none":
        return RecordProtection()
    refuse = crypto.refuse_plaintext
    if crypto.key_file is not None:
        codec = RecordCodec(FileKeyRing(crypto.key_file))
        return RecordProtection(codec, refuse_plaintext=refuse)
    if not config.gateway.dev_keys:
        raise ConfigError('gateway.toml: crypto.key_file is required for at_rest = "sm4-gcm"')
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        # another instance may make it at the same moment: then use that one
        with contextlib.suppress(FileExistsError):
            FileKeyRing.generate(path, "dev-1")
    return RecordProtection(RecordCodec(FileKeyRing(path)), refuse_plaintext=refuse)
