"""The versioned-migration runner: order, one transaction per file, idempotence, refusal of
a schema newer than the code."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.problems import StoreError
from gateway.storage.migrate import Migration, load_migrations, migrate_sqlite

AT = datetime(2026, 7, 11, 8, 0, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        yield c
    finally:
        c.close()


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def versions(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_shipped_sqlite_migrations_load_in_order() -> None:
    migrations = load_migrations("sqlite")
    assert migrations[0].version == 1
    assert migrations[0].name == "0001_initial.sql"
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert load_migrations("no-such-dialect") == []


def test_shipped_migrations_apply_once(conn: sqlite3.Connection) -> None:
    migrations = load_migrations("sqlite")
    assert migrate_sqlite(conn, migrations, AT) == [m.version for m in migrations]
    assert {"messages", "deliveries", "audit_log", "counters"} <= tables(conn)
    assert migrate_sqlite(conn, migrations, AT) == []
    assert versions(conn) == [m.version for m in migrations]
    applied_at = conn.execute("SELECT applied_at FROM schema_migrations").fetchone()[0]
    assert applied_at == AT.isoformat()


def test_applied_in_order_and_incrementally(conn: sqlite3.Connection) -> None:
    one = Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    two = Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (1);")
    assert migrate_sqlite(conn, [one], AT) == [1]
    assert migrate_sqlite(conn, [one, two], AT) == [2]
    assert versions(conn) == [1, 2]
    assert conn.execute("SELECT x FROM a").fetchall() == [(1,)]


def test_failed_migration_rolls_back_only_itself(conn: sqlite3.Connection) -> None:
    good = Migration(1, "0001_good.sql", "CREATE TABLE good (x INTEGER);")
    bad = Migration(
        2,
        "0002_bad.sql",
        "CREATE TABLE half (x INTEGER);\nINSERT INTO good VALUES (1);\nTHIS IS NOT SQL;",
    )
    with pytest.raises(StoreError, match=r"0002_bad\.sql"):
        migrate_sqlite(conn, [good, bad], AT)
    assert versions(conn) == [1]
    assert "half" not in tables(conn)
    assert conn.execute("SELECT COUNT(*) FROM good").fetchone()[0] == 0
    assert not conn.in_transaction
    # Fixed file: applies on the next start.
    fixed = Migration(2, "0002_bad.sql", "CREATE TABLE half (x INTEGER);")
    assert migrate_sqlite(conn, [good, fixed], AT) == [2]


def test_triggers_survive_the_script_runner(conn: sqlite3.Connection) -> None:
    trig = Migration(
        1,
        "0001_t.sql",
        "CREATE TABLE t (x INTEGER);\n"
        "CREATE TRIGGER t_ro BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END;",
    )
    migrate_sqlite(conn, [trig], AT)
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("DELETE FROM t")


def test_newer_schema_is_refused(conn: sqlite3.Connection) -> None:
    one = Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    two = Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER);")
    migrate_sqlite(conn, [one, two], AT)
    with pytest.raises(StoreError, match="newer"):
        migrate_sqlite(conn, [one], AT)


def test_duplicate_versions_fail_loudly(tmp_path: Path) -> None:
    root = tmp_path / "migrations" / "fake"
    root.mkdir(parents=True)
    (root / "0001_a.sql").write_text("SELECT 1;")
    (root / "0001_b.sql").write_text("SELECT 2;")
    (root / "README.txt").write_text("ignored")
    with pytest.raises(StoreError, match="two migrations with version 1"):
        load_migrations("fake", tmp_path / "migrations")
