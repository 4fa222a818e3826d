"""Accepts per second of ``SqliteStore`` against one-INSERT-one-COMMIT plain sqlite3.

Why: group commit is the reason the store has a writer thread at all; this shows what it buys
at 1, 16 and 256 concurrent callers, against the obvious baseline measured in the same run
on the same disk (WAL, ``synchronous=FULL``: every acknowledged message durable).

    .venv/bin/python -m bench.store [--messages N] [--synchronous FULL|NORMAL] [--dir PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.chain import AuditEvent
from gateway.clock import SystemClock
from gateway.storage.base import AcceptRequest
from gateway.storage.sqlite import SqliteStore

BODY = os.urandom(1500).hex().encode()  # about the size of a countersigned message
RECEIPT = os.urandom(200).hex().encode()


def baseline(path: Path, messages: int, synchronous: str) -> float:
    """One INSERT + COMMIT per message, WAL, same synchronous level: messages per second."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, source TEXT, event_id TEXT,"
        " body BLOB, receipt BLOB, UNIQUE (source, event_id))"
    )
    start = time.perf_counter()
    for i in range(messages):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO messages (source, event_id, body, receipt) VALUES (?, ?, ?, ?)",
            ("bench.source", f"e{i}", BODY, RECEIPT),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return messages / elapsed


def make_request(i: int, now: datetime) -> AcceptRequest:
    return AcceptRequest(
        source="bench.source",
        event_id=f"e{i}",
        type="cn.gov.zj.injury.medical_diagnosis.v1",
        subject=None,
        payload_sha256=hashlib.sha256(str(i).encode()).hexdigest(),
        accepted_at=now,
        recipients=[("zj.hrss", "push"), ("zj.medicare", "pull")],
        build=lambda seq: (BODY, RECEIPT),
        audit=AuditEvent(action="message.accepted", actor="bench", at=now, target=f"e{i}"),
    )


async def store_run(
    path: Path, messages: int, concurrency: int, synchronous: str
) -> tuple[float, int]:
    """``concurrency`` callers share ``messages`` accepts: (accepts per second, commits)."""
    store = SqliteStore(path, clock=SystemClock(), synchronous=synchronous)
    await store.open()
    now = datetime.now(UTC)
    counter = iter(range(messages))

    async def caller() -> None:
        for i in counter:
            await store.accept(make_request(i, now))

    try:
        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        return messages / elapsed, store.connector.commits
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--synchronous", default="FULL")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    args = parser.parse_args()
    sync = args.synchronous.upper()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        base = baseline(root / "baseline.db", args.messages, sync)
        print(f"synchronous={sync}, {args.messages} messages per run, directory {root}")
        print(f"{'run':<34}{'accepts/s':>12}{'commits':>10}{'msgs/commit':>13}{'vs baseline':>13}")
        label = "baseline: INSERT+COMMIT each"
        print(f"{label:<34}{base:>12.0f}{args.messages:>10}{1:>13.1f}{1:>12.2f}x")
        for concurrency in (1, 16, 256):
            rate, commits = asyncio.run(
                store_run(root / f"store-{concurrency}.db", args.messages, concurrency, sync)
            )
            per = args.messages / max(commits, 1)
            label = f"SqliteStore, {concurrency} concurrent"
            print(f"{label:<34}{rate:>12.0f}{commits:>10}{per:>13.1f}{rate / base:>12.2f}x")


if __name__ == "__main__":
    main()
