"""Prove the audit chain intact, or name the first entry that does not fit.

Works on the raw rows (seq, stored entry bytes, prev_hash, hash): every hash is recomputed
from the stored bytes, never from a decoded form, so one changed byte anywhere is found.

When an entry's recomputed hash differs from its stored one, the next entry tells which was
changed: its ``prev_hash`` still holds the original hash, so if it equals the recomputed hash
the stored hash was changed, and if it equals the stored hash the bytes were. For the last
entry there is no witness and the reason says so.

The chain's digest (SHA-256 or SM3) is read from its first entry's ``prev_hash``, the genesis
value (``gateway.audit.chain``); every later hash must be of the same digest to verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import orjson

from gateway.audit.chain import GENESES, GENESIS, digest_of, link
from gateway.trust.digests import DigestName

Row = tuple[int, bytes, str, str]

MISSING = "missing entry"
BROKEN_LINK = "broken link"
BYTES_CHANGED = "bytes changed"
HASH_CHANGED = "hash changed"
BYTES_OR_HASH = "bytes or hash changed"


@dataclass(frozen=True, slots=True)
class Verdict:
    entries: int
    head: str
    broken_seq: int | None = None
    reason: str | None = None
    detail: str = ""
    #: the chain's digest, read from its genesis value; None for an empty chain
    digest: DigestName | None = None

    @property
    def intact(self) -> bool:
        return self.broken_seq is None


def _embedded_seq(entry: bytes) -> object:
    try:
        decoded = orjson.loads(entry)
    except orjson.JSONDecodeError:
        return None
    return decoded.get("seq") if isinstance(decoded, dict) else None


def verify_rows(rows: Sequence[Row], after_seq: int = 0, prev: str | None = None) -> Verdict:
    """Check seq contiguity from 1, a genesis value first, every prev link and every hash;
    stop at the first fault. The verdict names the chain's digest.

    ``after_seq`` and ``prev`` continue a verification that already reached entry
    ``after_seq`` with hash ``prev`` (``gateway.audit.watch`` checks only what is new); the
    digest is then the one ``prev`` names, so an SM3 chain is continued in SM3."""
    if prev is not None and after_seq > 0:
        return replace(_verify_from(rows, prev, after_seq + 1), digest=digest_of(prev))
    if not rows:
        return Verdict(0, GENESIS)
    if rows[0][0] != 1:
        return Verdict(0, GENESIS, 1, MISSING, "entry 1 is missing")
    first = rows[0][2]
    if first not in GENESES.values():
        return Verdict(0, GENESIS, 1, BROKEN_LINK, "its prev_hash is no chain's genesis value")
    return replace(_verify_from(rows, first, 1), digest=digest_of(first))


def _verify_from(rows: Sequence[Row], prev: str, first_seq: int) -> Verdict:
    expected_seq, count = first_seq, 0
    for index, (seq, entry, prev_hash, digest) in enumerate(rows):
        if seq != expected_seq:
            return Verdict(count, prev, expected_seq, MISSING, f"entry {expected_seq} is missing")
        if prev_hash != prev:
            return Verdict(
                count, prev, seq, BROKEN_LINK, "its prev_hash is not the previous entry's hash"
            )
        recomputed = link(prev_hash, entry)
        if recomputed != digest:
            witness = rows[index + 1][2] if index + 1 < len(rows) else None
            if witness == recomputed:
                reason, detail = HASH_CHANGED, "its stored hash was changed"
            elif witness == digest:
                reason, detail = BYTES_CHANGED, "its stored bytes were changed"
            else:
                reason, detail = BYTES_OR_HASH, "its stored bytes or its stored hash were changed"
            return Verdict(count, prev, seq, reason, detail)
        if _embedded_seq(entry) != seq:
            # hash fits, but the entry says it belongs elsewhere: rows were renumbered
            return Verdict(count, prev, seq, BROKEN_LINK, "its bytes name another seq")
        prev, expected_seq, count = digest, seq + 1, count + 1
    return Verdict(count, prev)
