"""Prove the audit chain intact, or name the first entry that does not fit.

Works on the raw rows (seq, stored entry bytes, prev_hash, hash): every hash is recomputed
from the stored bytes, never from a decoded form, so one changed byte anywhere is found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.audit.chain import GENESIS, link

Row = tuple[int, bytes, str, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    entries: int
    head: str
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_seq is None


def verify_rows(rows: Iterable[Row]) -> Verdict:
    expected_seq, prev, count = 1, GENESIS, 0
    for seq, entry, prev_hash, digest in rows:
        if seq != expected_seq:
            return Verdict(count, prev, expected_seq, f"entry {expected_seq} is missing")
        if prev_hash != prev:
            return Verdict(count, prev, seq, "its prev_hash does not match the previous entry")
        if link(prev_hash, entry) != digest:
            return Verdict(count, prev, seq, "its bytes or its stored hash were changed")
        prev, expected_seq, count = digest, seq + 1, count + 1
    return Verdict(count, prev)
