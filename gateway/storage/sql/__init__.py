"""The SQL the stores run, kept by name in files: ``common.sql`` for statements both
dialects spell alike, ``sqlite.sql`` and ``postgresql.sql`` for what differs. Python asks for
a query by its name, never for a string literal (procrastinate's ``sql/queries.sql`` is the
model).

File format: a query starts at a line ``-- name --``; the ``--`` lines right after it
describe it (comment lines are dropped, so they may say anything). Parameters are named
(``:seq``), so one call serves both dialects: SQLite binds them by name itself, and for
PostgreSQL they are compiled here to positional ``$1`` placeholders (its ``::type`` casts are
left alone). A query may be a short script: its
statements, each ending in ``;`` at the end of a line, run in order and the last one's rows
are the result. ``{message_columns}`` and the other column lists of ``gateway.storage.rows``
are filled in, so each list is written once, beside the code that reads it.

A name defined twice, in one file or in ``common.sql`` and a dialect's file, is a packaging
mistake and fails loudly at load time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final

_HEADER: Final = re.compile(r"^-- ([a-z0-9_]+) --\n(?:--.*\n)*", re.MULTILINE)
# ``:name`` but not the casts of ``x::text`` (a colon before it, or a word character)
_PARAMETER: Final = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
_END_OF_STATEMENT: Final = re.compile(r";[ \t]*(?:\n|\Z)")

#: dialect -> the placeholder for the n-th (1-based) distinct parameter, of that name
PLACEHOLDERS: Final[Mapping[str, Callable[[int, str], str]]] = {
    "sqlite": lambda n, name: f":{name}",
    "postgresql": lambda n, name: f"${n}",
}


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement, compiled: ``text`` with the dialect's placeholders, ``params`` the
    names they stand for, in order."""

    text: str
    params: tuple[str, ...]

    def arguments(self, values: Mapping[str, object]) -> list[object]:
        """The positional arguments from named ``values``; KeyError names one missing."""
        return [values[name] for name in self.params]


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    statements: tuple[Statement, ...]


def parse(text: str) -> dict[str, str]:
    """``-- name --`` sections of a query file -> {name: SQL}. ValueError on a repeat."""
    parts = _HEADER.split(text)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"query {name!r} is defined twice")
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        found[name] = "\n".join(lines).strip()
    return found


def compile_statement(sql: str, placeholder: Callable[[int, str], str]) -> Statement:
    """Named parameters -> positional ones; a name used twice gets one position."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return placeholder(order.index(name) + 1, name)

    return Statement(_PARAMETER.sub(number, sql), tuple(order))


def compile_query(name: str, sql: str, placeholder: Callable[[int, str], str]) -> Query:
    texts = [part.strip() for part in _END_OF_STATEMENT.split(sql)]
    statements = tuple(compile_statement(text, placeholder) for text in texts if text)
    if not statements:
        raise ValueError(f"query {name!r} is empty")
    return Query(name, statements)


def _read(filename: str) -> str:
    return (resources.files(__package__) / filename).read_text(encoding="utf-8")


def load_queries(dialect: str, columns: Mapping[str, str]) -> dict[str, Query]:
    """Every query for ``dialect`` ("sqlite" or "postgresql"), by name, with the column
    lists of ``columns`` ({"message_columns": "m.seq, ..."}) filled in."""
    placeholder = PLACEHOLDERS[dialect]
    common, own = parse(_read("common.sql")), parse(_read(f"{dialect}.sql"))
    both = sorted(common.keys() & own.keys())
    if both:
        raise ValueError(f"{dialect}.sql redefines {both} of common.sql")
    return {
        name: compile_query(name, sql.format_map(columns), placeholder)
        for name, sql in (common | own).items()
    }
