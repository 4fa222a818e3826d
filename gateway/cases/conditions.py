"""Conditions and cross-checks of a case definition, read from TOML and evaluated on documents.

A condition reads one document (the application form, a material or a decision) and may
compare it with the application form, so a rule can say "the applicant's liability" or "the
enrolment started after the injury":

    { pointer = "/injury/accident_kind", equals = "commuting" }
    { pointer = "/disability_grade", in = [1, 2, 3, 4, 5, 6] }
    { pointer = "/enrolled_date", after_form = "/injury/date" }
    { pointer = "/liability", in = ["main", "full"], within = "/parties",
      where = { pointer = "/id_number", equals_form = "/applicant/id_number" } }

``within`` takes the array at that pointer; the condition holds when an item matching
``where`` holds. A ``when`` may also be an array of conditions: any of them holding is enough.

A cross-check (``Match``) says where a material carries a fact the application form also
carries (the person's ID number, the accident's date or document number); a material that
carries the fact with another value does not count for the case (DESIGN section 10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.configuration.loader import Place
from gateway.routing.router import resolve_pointer

MISSING = resolve_pointer({}, "/absent")  # the router's "absent" marker
ANY_INDEX = "*"
_OPERATORS = ("equals", "in", "equals_form", "after_form")


@dataclass(frozen=True, slots=True)
class Condition:
    """``pointer`` holds one of ``values`` (or equals / is after the form's value at
    ``form_pointer``); with ``within``, an item of that array satisfying ``where`` does."""

    pointer: str
    values: tuple[Any, ...] = ()
    form_pointer: str | None = None
    after: bool = False
    within: str | None = None
    where: Condition | None = None

    def holds(self, document: Any, form: Mapping[str, Any] | None = None) -> bool:
        if self.within is None:
            return self._value_holds(resolve_pointer(document, self.pointer), form)
        items = resolve_pointer(document, self.within)
        if not isinstance(items, list):
            return False
        chosen = [i for i in items if self.where is None or self.where.holds(i, form)]
        return any(self._value_holds(resolve_pointer(i, self.pointer), form) for i in chosen)

    def _value_holds(self, value: Any, form: Mapping[str, Any] | None) -> bool:
        if value is MISSING:
            return False
        if self.form_pointer is None:
            # `True in (1,)` is true in Python; compare types so a flag never matches a count
            return any(value == v and type(value) is type(v) for v in self.values)
        other = resolve_pointer(form or {}, self.form_pointer)
        if other is MISSING or not isinstance(value, str) or not isinstance(other, str):
            return False
        # ISO dates and date-times compare as text on their date part
        return value[:10] > other[:10] if self.after else value == other


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Several conditions, any of which is enough."""

    conditions: tuple[Condition, ...]

    def holds(self, document: Any, form: Mapping[str, Any] | None = None) -> bool:
        return any(c.holds(document, form) for c in self.conditions)


When = Condition | AnyOf


@dataclass(frozen=True, slots=True)
class Match:
    """A fact a material carries at ``pointer`` (``*`` stands for any array index) that must
    equal the application form's value at ``form``; ``date`` compares the date part only.
    Absent on either side, the check does not apply: the material does not carry the fact."""

    pointer: str
    form: str
    what: str
    date: bool = False

    def fault(self, document: Any, form: Mapping[str, Any]) -> str | None:
        expected = resolve_pointer(form, self.form)
        found = [v for v in values_at(document, self.pointer) if isinstance(v, str)]
        if not isinstance(expected, str) or not found:
            return None
        width = 10 if self.date else None  # the date part of a date-time
        if any(v[:width] == expected[:width] for v in found):
            return None
        return f"{self.what} differs from the application's ({self.pointer})"


def values_at(document: Any, pointer: str) -> list[Any]:
    """Every value at ``pointer``, where a ``*`` token stands for each item of an array."""
    current = [document]
    for part in pointer[1:].split("/") if pointer else []:
        following: list[Any] = []
        for item in current:
            if part == ANY_INDEX and isinstance(item, list):
                following.extend(item)
            else:
                value = resolve_pointer(item, "/" + part)
                if value is not MISSING:
                    following.append(value)
        current = following
    return current


# ---------------------------------------------------------------------- parsing


def parse_when(raw: Any, place: Place) -> When:
    if isinstance(raw, list):
        if not raw:
            raise place.fail("must be a condition or a non-empty array of conditions")
        return AnyOf(tuple(parse_condition(c, place.at(i)) for i, c in enumerate(raw)))
    return parse_condition(raw, place)


def optional_when(table: Mapping[str, Any], key: str, place: Place) -> When | None:
    return parse_when(table[key], place.at(key)) if key in table else None


def parse_condition(raw: Any, place: Place) -> Condition:
    table = place.table(raw)
    place.only(table, {"pointer", "within", "where", *_OPERATORS})
    given = [op for op in _OPERATORS if op in table]
    if len(given) != 1:
        raise place.fail(f"needs exactly one of {', '.join(_OPERATORS)}")
    op = given[0]
    values: Sequence[Any] = ()
    form_pointer = None
    if op == "in":
        values = table["in"]
        if not isinstance(values, list) or not values:
            raise place.at("in").fail("must be a non-empty list")
    elif op == "equals":
        values = [table["equals"]]
    else:
        form_pointer = pointer(table[op], place.at(op))
    within = table.get("within")
    return Condition(
        pointer=pointer(table.get("pointer"), place.at("pointer")),
        values=tuple(values),
        form_pointer=form_pointer,
        after=op == "after_form",
        within=None if within is None else pointer(within, place.at("within")),
        where=parse_condition(table["where"], place.at("where")) if "where" in table else None,
    )


def parse_matches(raw: Any, place: Place) -> tuple[Match, ...]:
    if not isinstance(raw, list):
        raise place.fail("must be an array of { pointer, form, what } tables")
    matches = []
    for i, item in enumerate(raw):
        here = place.at(i)
        table = here.table(item)
        here.only(table, {"pointer", "form", "what", "date"})
        what = table.get("what")
        if not isinstance(what, str) or not what:
            raise here.at("what").fail("must name the fact, such as 'accident date'")
        date = table.get("date", False)
        if not isinstance(date, bool):
            raise here.at("date").fail("must be true or false")
        matches.append(
            Match(
                pointer=pointer(table.get("pointer"), here.at("pointer")),
                form=pointer(table.get("form"), here.at("form")),
                what=what,
                date=date,
            )
        )
    return tuple(matches)


def pointer(value: Any, place: Place) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise place.fail("must be a JSON Pointer such as /injury/accident_kind")
    return value
