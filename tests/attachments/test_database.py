"""The attachment tables' SQLite driver: one connection, one thread of its own.

Two threads in one ``sqlite3.Connection`` at once crash the process (a segmentation fault
seen in CI when a cancelled call's thread still ran while the next call, or ``close``, began
in another). Every call now runs in the driver's own thread, in the order asked.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from gateway.attachments.database import SqliteDatabase


async def test_cancelled_calls_never_overlap_the_next_one_or_close(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "a.sqlite3")
    threads: set[str] = set()
    original = db._in_thread

    async def recording(call):  # type: ignore[no-untyped-def]
        def run():  # type: ignore[no-untyped-def]
            threads.add(threading.current_thread().name)
            return call()

        return await original(run)

    db._in_thread = recording  # type: ignore[method-assign]
    await db._in_thread(lambda: db._conn.execute("CREATE TABLE t (x INTEGER)"))
    await db._in_thread(
        lambda: db._conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(300)])
    )
    db._sql["count_heavy"] = "SELECT count(*) FROM t a, t b, t c WHERE a.x < 100"
    tasks = [asyncio.create_task(db.one("count_heavy")) for _ in range(20)]
    await asyncio.sleep(0.01)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert await db.one("count_heavy") == (9_000_000,)
    await db.close()  # waits behind whatever a cancelled call left running
    assert len(threads) == 1 and next(iter(threads)).startswith("attachments-sqlite")
