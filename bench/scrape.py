"""What a metrics scrape costs the store, at 1,000 pending deliveries and at many more
(issue 12: it counted every pending row on every scrape, 0.2-0.4 s at 50,000).

``Store.stats`` (what ``/metrics`` reads) is timed on one SQLite file, first with 1,000
pending push deliveries for one recipient (the baseline, same run), then with ``--pending``
(default 1,000,000). Reported: the median of 20 reads at each size and their ratio, which
kept counts (``delivery_counts``) hold near 1.

    .venv/bin/python -m bench.scrape [--pending 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.clock import SystemClock
from gateway.storage.sqlite import SqliteStore

RECIPIENT = "330784.hrss.recognition"
BULK = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256, accepted_at,
    body, receipt)
SELECT :base + i, '330784.health.h001', 'bulk-' || (:base + i),
    'cn.gov.zj.injury.medical_diagnosis.v1', NULL, 'ab', :now, X'7B7D', X'7B7D' FROM n;
INSERT INTO deliveries (seq, recipient, mode, state, attempts, next_attempt_at)
SELECT seq, :recipient, 'push', 'pending', 0, :now FROM messages WHERE seq > :base;
INSERT INTO delivery_counts (recipient, state, n) VALUES (:recipient, 'pending', :count)
ON CONFLICT (recipient, state) DO UPDATE SET n = n + excluded.n;
UPDATE counters SET value = :base + :count WHERE name = 'message_seq'
"""


def add_pending(path: Path, count: int) -> None:
    """``count`` more pending push deliveries, written beside the store (as a backlog)."""
    now = int(datetime.now(UTC).timestamp() * 1_000_000)
    with sqlite3.connect(path, timeout=60) as conn:
        base = conn.execute("SELECT value FROM counters WHERE name = 'message_seq'").fetchone()[0]
        params = {"count": count, "base": base, "now": now, "recipient": RECIPIENT}
        for statement in BULK.split(";\n"):
            conn.execute(statement, params)


async def median_stats(store: SqliteStore, reads: int = 20) -> float:
    """The median time of ``store.stats``, seconds."""
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        await store.stats(datetime.now(UTC))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def run(pending: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gateway.sqlite3"
        store = SqliteStore(path, clock=SystemClock())
        await store.open()
        try:
            add_pending(path, 1_000)
            small = await median_stats(store)
            add_pending(path, pending - 1_000)
            stats = await store.stats(datetime.now(UTC))
            assert stats.pending_by_recipient[RECIPIENT] == pending
            large = await median_stats(store)
        finally:
            await store.close()
    print("Store.stats (what a scrape reads), SQLite, median of 20 reads")
    print(f"{1_000:>12,} pending  {small * 1000:8.3f} ms  (baseline)")
    print(f"{pending:>12,} pending  {large * 1000:8.3f} ms  (x{large / small:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pending", type=int, default=1_000_000)
    asyncio.run(run(parser.parse_args().pending))


if __name__ == "__main__":
    main()
