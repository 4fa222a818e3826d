"""A deep backlog seeded by SQL: N messages each with one pending pull delivery to the
assessment committee, as if it had not fetched its inbox for a long time.

Seeded straight into the gateway's tables (the gateway has migrated them on start) with one
statement each, so a million rows take seconds rather than a million acceptances. The
message counter is moved past them so new acceptances take fresh sequence numbers.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import asyncpg

RECIPIENT = "330700.hrss.assessment"
SOURCE = "330784.backlog"
TYPE = "cn.gov.zj.injury.medical_diagnosis.v1"

SQLITE = (
    """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
    INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256, accepted_at,
                          body, receipt)
    SELECT i, :source, 'backlog-' || i, :type, NULL, '', :now, x'7b7d', x'7b7d' FROM n""",
    """INSERT INTO deliveries (seq, recipient, mode, state)
    SELECT seq, :recipient, 'pull', 'pending' FROM messages WHERE source = :source""",
    "UPDATE counters SET value = :count WHERE name = 'message_seq'",
)

POSTGRES = (
    """INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256, accepted_at,
                             body, receipt)
    SELECT i, $2, 'backlog-' || i, $3, NULL, '', now(), '\\x7b7d', '\\x7b7d'
    FROM generate_series(1, $1::bigint) AS i""",
    """INSERT INTO deliveries (seq, recipient, mode, state)
    SELECT seq, $1, 'pull', 'pending' FROM messages WHERE source = $2""",
    "SELECT setval('message_seq', $1::bigint)",
)


def seed_sqlite(path: Path, count: int) -> float:
    """Seconds it took to seed ``count`` pending deliveries into the SQLite file at ``path``."""
    started = time.perf_counter()
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        params = {
            "count": count,
            "source": SOURCE,
            "type": TYPE,
            "now": int(time.time() * 1e6),
            "recipient": RECIPIENT,
        }
        for statement in SQLITE:
            conn.execute(statement, params)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return time.perf_counter() - started


def seed_postgres(dsn: str, count: int) -> float:
    """Seconds it took to seed ``count`` pending deliveries into the database at ``dsn``."""

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute(POSTGRES[0], count, SOURCE, TYPE)
                await conn.execute(POSTGRES[1], RECIPIENT, SOURCE)
                await conn.execute(POSTGRES[2], count)
            await conn.execute("ANALYZE")
        finally:
            await conn.close()

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started
