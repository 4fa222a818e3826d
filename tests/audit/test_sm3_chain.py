"""A chain in SM3: its digest is read from its genesis value, and it never mixes digests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.audit.chain import AuditEvent, digest_of, entry_bytes, genesis, link
from gateway.audit.verify import BROKEN_LINK, HASH_CHANGED, Row, verify_rows
from gateway.trust.digests import DigestName, hexdigest

AT = datetime(2026, 7, 24, 9, 0, tzinfo=UTC)


def _chain(name: DigestName, count: int = 3) -> list[Row]:
    rows: list[Row] = []
    prev = genesis(name)
    for seq in range(1, count + 1):
        body = entry_bytes(seq, AuditEvent("message.accepted", "330784.zlb", AT, f"t-{seq}"))
        digest = link(prev, body)
        rows.append((seq, body, prev, digest))
        prev = digest
    return rows


@pytest.mark.parametrize("name", ["sha256", "sm3"])
def test_a_chain_names_its_digest_and_verifies(name: DigestName) -> None:
    rows = _chain(name)
    verdict = verify_rows(rows)
    assert verdict.intact and verdict.digest == name and verdict.entries == 3
    _, body, prev, digest = rows[0]
    expected = hexdigest(name, prev.encode() + b"\n" + body)
    assert digest == (expected if name == "sha256" else "sm3:" + expected)
    assert digest_of(verdict.head) == name


def test_a_sha256_hash_inside_an_sm3_chain_breaks_it() -> None:
    rows = _chain("sm3")
    seq, body, prev, _ = rows[1]
    mixed = hexdigest("sha256", prev.encode() + b"\n" + body)
    rows[1] = (seq, body, prev, mixed)
    verdict = verify_rows(rows)
    assert (verdict.broken_seq, verdict.reason) == (2, HASH_CHANGED)


def test_a_chain_that_does_not_start_at_a_genesis_value_is_broken() -> None:
    rows = _chain("sm3")
    seq, body, _, digest = rows[0]
    rows[0] = (seq, body, "sm3:" + "1" * 64, digest)
    verdict = verify_rows(rows)
    assert (verdict.broken_seq, verdict.reason, verdict.digest) == (1, BROKEN_LINK, None)


def test_digest_of_refuses_what_is_no_chain_hash() -> None:
    for bad in ("sm3:" + "0" * 63, "SM3:" + "0" * 64, "sha256:" + "0" * 64, "g" * 64):
        with pytest.raises(ValueError, match="not a chain hash"):
            digest_of(bad)


@pytest.mark.parametrize("name", ["sha256", "sm3"])
def test_a_verification_continues_from_where_it_stopped(name: DigestName) -> None:
    rows = _chain(name, 5)
    first = verify_rows(rows[:2])
    rest = verify_rows(rows[2:], first.entries, first.head)
    assert rest.intact and rest.entries == 3 and rest.digest == name
    assert rest.head == verify_rows(rows).head
    seq, body, prev, _ = rows[3]
    changed = [*rows[2:3], (seq, body + b" ", prev, rows[3][3]), *rows[4:]]
    verdict = verify_rows(changed, first.entries, first.head)
    assert verdict.broken_seq == 4 and verdict.entries == 1
