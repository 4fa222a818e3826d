"""The store core's seams: the query files and their loader, the declared capabilities, and
the synchronous drive of a script on SQLite's threads. The behaviour itself is covered by
running test_sqlite.py against both stores (see conftest)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.problems import NotFoundError
from gateway.storage import core, resealing
from gateway.storage.base import Capabilities, Unsupported
from gateway.storage.connector import Tx
from gateway.storage.rows import FRAGMENTS
from gateway.storage.sql import compile_query, load_queries, parse
from gateway.storage.sqlite import SqliteStore, SqliteTx, drive

from .conftest import START, AnyStore, event

#: Queries only a store with the capability has (PostgreSQL); the core asks for them only
#: after checking ``Store.capabilities``.
SHARED_ONLY = {
    "notify": "listen",
    "forget_token_uses": "token_uses",
    "use_token": "token_uses",
    "admin_state": "shared_admin_state",
    "admin_state_version": "shared_admin_state",
    "insert_admin_state": "shared_admin_state",
    "update_admin_state": "shared_admin_state",
}


def names_the_core_asks_for() -> set[str]:
    source = "".join(
        Path(module.__file__).read_text(encoding="utf-8") for module in (core, resealing)
    )
    return set(re.findall(r'(?:tx\.(?:rows|row|value|run)|_one_message)\(\s*"([a-z_]+)"', source))


def test_parse_and_compile() -> None:
    text = (
        "-- Preamble: not a query (no name line yet).\n"
        "-- first --\n-- what it does\nSELECT :a, :b::text, x::int FROM t WHERE c = :a;\n"
        "-- second --\nDELETE FROM t;\n-- a comment line; :dropped\n"
        "INSERT INTO t VALUES (:v);\n"
    )
    queries = parse(text)
    assert list(queries) == ["first", "second"]
    first = compile_query("first", queries["first"], lambda n, name: f"${n}")
    (statement,) = first.statements
    assert statement.text == "SELECT $1, $2::text, x::int FROM t WHERE c = $1"
    assert statement.params == ("a", "b")
    assert statement.arguments({"b": "B", "a": 1, "unused": 0}) == [1, "B"]
    with pytest.raises(KeyError):
        statement.arguments({"a": 1})
    second = compile_query("second", queries["second"], lambda n, name: f":{name}")
    assert [s.text for s in second.statements] == ["DELETE FROM t", "INSERT INTO t VALUES (:v)"]
    with pytest.raises(ValueError, match="twice"):
        parse("-- q --\nSELECT 1;\n-- q --\nSELECT 2;\n")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_query_the_core_asks_for_exists(dialect: str) -> None:
    queries = load_queries(dialect, FRAGMENTS)
    wanted = names_the_core_asks_for()
    assert "store_message" in wanted and "claim_due" in wanted  # the scan sees the core
    shared = dialect == "postgresql"
    expected = wanted if shared else wanted - SHARED_ONLY.keys()
    assert expected <= queries.keys()
    assert queries.keys() <= wanted | {"ping"}  # nothing defined that nobody runs
    for query in queries.values():
        for statement in query.statements:
            assert "{" not in statement.text  # every column list was filled in
            named = set(re.findall(r"(?<![:\w]):([a-z0-9_]+)", statement.text))
            # SQLite binds by name itself; PostgreSQL gets $n for every name
            assert named == (set(statement.params) if dialect == "sqlite" else set())


def test_postgresql_notifies_on_the_channel_it_listens_on() -> None:
    from gateway.storage.postgres import CHANNEL

    queries = load_queries("postgresql", FRAGMENTS)
    for name in ("store_message", "notify"):
        assert f"pg_notify('{CHANNEL}'" in queries[name].statements[-1].text


async def test_capabilities_are_declared_and_refused_by_name(store: AnyStore) -> None:
    declared: Capabilities = store.capabilities
    shared = not isinstance(store, SqliteStore)
    assert declared == Capabilities(listen=shared, token_uses=shared, shared_admin_state=shared)
    if shared:
        assert await store.admin_state() is None
        assert await store.admin_state_version() == 0
        return
    expires = START + timedelta(minutes=5)
    refusals = {
        "listen": store.listen(lambda wakeup: None),
        "token_uses": store.claim_token("330784.zlb\x00jti", expires, START),
        "shared_admin_state": store.admin_state(),
    }
    for capability, call in refusals.items():
        with pytest.raises(Unsupported, match=capability) as refused:
            await call
        assert refused.value.capability == capability
    with pytest.raises(Unsupported):
        await store.save_admin_state(b"{}", 1)


def test_drive_refuses_a_script_that_suspends() -> None:
    async def sleeps(tx: Tx) -> int:
        await asyncio.sleep(0)
        return 1

    async def returns(tx: Tx) -> int:
        return 2

    tx = SqliteTx(None, {})  # type: ignore[arg-type]  # neither script touches it
    assert drive(returns, tx) == 2
    with pytest.raises(RuntimeError, match="awaited something other"):
        drive(sleeps, tx)


async def test_a_failing_script_leaves_nothing_behind(store: AnyStore) -> None:
    """What a script wrote before it raised is rolled back with it (SQLite: its savepoint
    in the group's transaction; PostgreSQL: its transaction), and the caller gets its own
    exception back."""
    await store.append_audit(event("one"))

    async def half(tx: Tx) -> None:
        await tx.run("insert_audit", seq=2, entry=b"{}", prev_hash="x", hash="y")
        raise RuntimeError("after the write")

    with pytest.raises(RuntimeError, match="after the write"):
        await store.connector.write(half)
    assert [r.seq for r in await store.audit_entries(0, 10)] == [1]
    assert (await store.append_audit(event("two"))).seq == 2
    with pytest.raises(NotFoundError, match="no delivery"):
        await store.mark_delivered(99, "zj.nobody", START, None, event("three"))
    assert [r.seq for r in await store.audit_entries(0, 10)] == [1, 2]
