"""A driver's whole contract with the store core (``gateway.storage.core``): run a script
of named queries in a transaction, say what the database can do, and convert its times.

Why scripts: the store's logic (what to read, which state to move, when to audit) is
written once, in the core, as a coroutine over a ``Tx``. A driver decides only *how* the
script runs: SQLite queues it to its single writer thread, inside the group commit's
savepoint; PostgreSQL runs it on a pooled connection in a transaction. A script awaits
nothing but its ``Tx`` (never the clock, the network or another task), which is what lets
SQLite run it to completion on a thread with no event loop (``sqlite.drive``).

Capabilities a driver lacks are declared in ``capabilities`` and its method for them raises
``Unsupported``; callers read the declaration, never probe the object (procrastinate's
``BaseConnector.listen_notify`` raising a specific error is the model).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

from gateway.storage.base import Capabilities
from gateway.storage.rows import Row
from gateway.storage.sql import Query

if TYPE_CHECKING:
    from gateway.delivery.wakeup import Wakeup

T = TypeVar("T")


class Tx(abc.ABC):
    """One transaction (or, for reads, one connection) as a script sees it: queries by name
    with named parameters (``gateway.storage.sql``)."""

    def __init__(self, queries: Mapping[str, Query]) -> None:
        self._queries = queries

    @abc.abstractmethod
    async def _execute(
        self, query: Query, params: Mapping[str, object], want_rows: bool
    ) -> tuple[list[Row], int]:
        """Run ``query``'s statements in order: the last one's rows (when ``want_rows``)
        and how many rows it changed."""

    async def rows(self, name: str, **params: object) -> list[Row]:
        return (await self._execute(self._queries[name], params, True))[0]

    async def row(self, name: str, **params: object) -> Row | None:
        """The first row, or None."""
        found = (await self._execute(self._queries[name], params, True))[0]
        return found[0] if found else None

    async def value(self, name: str, **params: object) -> Any:
        """The first column of the first row, or None."""
        found = (await self._execute(self._queries[name], params, True))[0]
        return found[0][0] if found else None

    async def run(self, name: str, **params: object) -> int:
        """How many rows the last statement changed."""
        return (await self._execute(self._queries[name], params, False))[1]


#: What the core hands a driver: a coroutine over one ``Tx``.
Script: TypeAlias = Callable[[Tx], Coroutine[Any, Any, T]]


async def answers(tx: Tx) -> bool:
    """The script a driver's ``ping`` runs: does the database answer a query?"""
    return bool(await tx.value("ping") == 1)


class Connector(Protocol):
    """A thin driver: lifecycle, transactions, and what differs between databases."""

    #: For messages: "SQLite store at /var/lib/x.db", "PostgreSQL store".
    name: str

    @property
    def capabilities(self) -> Capabilities: ...

    def when(self, value: Any) -> datetime:
        """A time column as read back -> an aware UTC datetime."""
        ...

    def notice(self, due: Sequence[tuple[str, str]]) -> str | None:
        """What a commit that makes deliveries to ``due`` (recipient, "push" | "pull") due
        tells the other instances (the NOTIFY payload), or None when there is nobody to
        tell."""
        ...

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    async def read(self, script: Script[T], *, snapshot: bool = False) -> T:
        """Run ``script`` on committed data; ``snapshot``: every query sees the same one."""
        ...

    async def write(self, script: Script[T]) -> T:
        """Run ``script`` in a transaction; returns once it has committed. An exception
        from the script rolls back its work and reaches the caller (database faults as
        ``StoreError``)."""
        ...

    async def listen(self, callback: Callable[[Wakeup], None]) -> None:
        """``Store.listen``; ``Unsupported`` unless ``capabilities.listen``."""
        ...
