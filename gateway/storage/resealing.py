"""What ``gateway keys at-rest`` and the background resealing ask of the store: message bodies
and case states sealed again under the active key, and how many records name each key.

Part of the store core (``gateway.storage.core.StoreCore`` inherits it), kept in its own module
because it is one concern: what ``[crypto] at_rest`` needs once data is already stored.
"""

from __future__ import annotations

from gateway.encryption.codec import is_sealed, key_id_of
from gateway.encryption.protection import RecordProtection
from gateway.storage.connector import Connector, Tx
from gateway.storage.rows import Row, case_record_id, message_record_id


class Resealing:
    """Resealing over the core's connector and record protection."""

    connector: Connector
    protection: RecordProtection

    async def reseal_messages(self, after_seq: int, limit: int) -> tuple[int | None, int]:
        """Seal again, under the active key, the message bodies after ``after_seq`` (at most
        ``limit`` looked at) that are plaintext or under an older key; returns (the last seq
        looked at, None when there are no more; how many were re-sealed). Bodies never
        change once stored, so the update only checks the row still holds what was read."""
        rows = await self.connector.read(
            lambda tx: tx.rows("reseal_messages_after", after=after_seq, limit=limit)
        )
        changes = [
            {
                "seq": int(seq),
                "body": self._reseal(bytes(body), message_record_id(int(seq))),
                "old": bytes(body),
            }
            for seq, body in rows
            if self.protection.needs_sealing(bytes(body))
        ]

        async def write(tx: Tx) -> int:
            return sum([await tx.run("reseal_message", **change) for change in changes])

        count = await self.connector.write(write) if changes else 0
        return (int(rows[-1][0]) if len(rows) == limit else None), count

    async def reseal_cases(self, after_id: str, limit: int) -> tuple[str | None, int]:
        """As ``reseal_messages`` for case states, in case id order; a case written since it
        was read (another version) is left to that write, which sealed it already."""
        rows = await self.connector.read(
            lambda tx: tx.rows("reseal_cases_after", after=after_id, limit=limit)
        )
        changes = [
            {
                "case_id": case_id,
                "version": int(version),
                "state": self._reseal(bytes(state), case_record_id(case_id)),
            }
            for case_id, version, state in rows
            if self.protection.needs_sealing(bytes(state))
        ]

        async def write(tx: Tx) -> int:
            return sum([await tx.run("reseal_case", **change) for change in changes])

        count = await self.connector.write(write) if changes else 0
        return (str(rows[-1][0]) if len(rows) == limit else None), count

    async def sealed_under(self, batch: int = 500) -> dict[str | None, int]:
        """How many message bodies and case states name each at-rest key id (None: not
        sealed), read in pages: what ``gateway keys at-rest retire`` checks first."""
        counts: dict[str | None, int] = {}
        after_seq: int = 0
        while len(rows := await self._page("reseal_messages_after", after_seq, batch)) > 0:
            _count_keys(counts, [bytes(body) for _, body in rows])
            after_seq = int(rows[-1][0])
        after_id: str = ""
        while len(rows := await self._page("reseal_cases_after", after_id, batch)) > 0:
            _count_keys(counts, [bytes(state) for _, _, state in rows])
            after_id = str(rows[-1][0])
        return counts

    async def _page(self, query: str, after: object, limit: int) -> list[Row]:
        return await self.connector.read(lambda tx: tx.rows(query, after=after, limit=limit))

    def _reseal(self, blob: bytes, record_id: str) -> bytes:
        return self.protection.seal(self.protection.open(blob, record_id), record_id)


def _count_keys(counts: dict[str | None, int], blobs: list[bytes]) -> None:
    for blob in blobs:
        key_id = key_id_of(blob) if is_sealed(blob) else None
        counts[key_id] = counts.get(key_id, 0) + 1
