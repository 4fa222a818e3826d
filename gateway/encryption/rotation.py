"""Re-encryption in the background: after a key rotation (or when encryption at rest is
turned on for a store that has plaintext records), every record not sealed under the active
key is opened and sealed again, a small batch per transaction, while the gateway serves.

The store does the row work (``Resealing``, implemented once in the store core); this module
only decides when: at start, then whenever the key ring reports a new active key. A record
that does not open is not skipped silently: the pass stops with the store's error, which
names the record, and is tried again at the next interval.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog

from gateway.encryption.codec import RecordCodec
from gateway.encryption.errors import AtRestError

log = structlog.get_logger("gateway.encryption")

BATCH = 200


class Resealing(Protocol):
    async def reseal_messages(self, after_seq: int, limit: int) -> tuple[int | None, int]:
        """Re-seal up to ``limit`` message bodies after ``after_seq`` that need it; returns
        (the last seq looked at, or None when there are no more; how many were re-sealed)."""
        ...

    async def reseal_cases(self, after_id: str, limit: int) -> tuple[str | None, int]:
        """As ``reseal_messages`` for case states, in case id order."""
        ...


async def reseal_all(store: Resealing, batch: int = BATCH) -> int:
    """One full pass over messages and cases; the number of records re-sealed."""
    total = 0
    after_seq: int | None = 0
    while after_seq is not None:
        after_seq, count = await store.reseal_messages(after_seq, batch)
        total += count
    after_id: str | None = ""
    while after_id is not None:
        after_id, count = await store.reseal_cases(after_id, batch)
        total += count
    return total


async def run_resealing(store: Resealing, codec: RecordCodec, interval: float = 60.0) -> None:
    """Forever: a pass at start, then one each time the key ring's active key changes
    (compared with the key of the last whole pass, so a ring that reading a record already
    refreshed, ``RecordCodec.open``, still gets its pass)."""
    sealed_under: str | None = None
    while True:
        try:
            codec.keyring.refresh()
            active = codec.keyring.active()[0]
            if active != sealed_under:
                count = await reseal_all(store)
                sealed_under = active
                log.info("at_rest.resealed", records=count, key=active)
        except AtRestError as exc:
            log.error("at_rest.reseal_failed", detail=exc.detail)
        await asyncio.sleep(interval)
