"""The schema registry: every document type's JSON Schema, compiled once, checked per message.

Two validators per type, on purpose:

* the fast path is fastjsonschema's compiled draft-07 validator (the schema turned into Python
  code), about eight times faster than the interpreted validator on an application form
  (``python -m bench.validation``). Almost every message is valid, so almost every message
  costs only this;
* only when that fails (or a cross-field date check fails) does jsonschema's interpreted
  ``Draft7Validator`` run, because it can list *every* problem with its place in the document,
  and a department fixing its export wants all of them at once, not one per round trip.

Both get the same custom formats (``formats.FORMATS``). Messages are built here from the schema
side of each error (the rule, the property name, the format), never from the jsonschema
message text, because that text quotes the offending value and values are personal data.

Cross-field rules are data too: a schema's top-level ``x-date-order`` lists chains of JSON
Pointers whose dates must not decrease (injury <= diagnosis <= decision). Missing or
unparsable values are skipped: absence is the business of ``required``, shape that of
``format``.

A document may also say which kind of value a field holds: an identity number's ``id_kind``
(resident ID, a residence permit, ...) or a code's ``code_edition`` (ICD-10 WHO, national
clinical 2.0, ...). A schema's top-level ``x-kind-formats`` lists such pairs,
``{"value": "id_number", "kind": "id_kind", "kind_format": "id-{kind}"}``: in every object of the
document holding both, the value must satisfy the format the kind names
(``formats.KIND_FORMATS``), and the message names that kind's rule.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import fastjsonschema
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from gateway.problem_types import UNKNOWN_TYPE
from gateway.problems import ConfigError, DocumentError, Violation
from gateway.validation.formats import (
    FAULTS,
    FORMAT_MESSAGES,
    FORMATS,
    KIND_FORMATS,
    parse_date,
    parse_date_time,
)

DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"
SCHEMA_ID_PREFIX: Final = "urn:zj-exchange:schema:"
SCHEMA_SUFFIX: Final = ".schema.json"
DATE_ORDER_KEYWORD: Final = "x-date-order"
KIND_FORMATS_KEYWORD: Final = "x-kind-formats"
ENUM_SHOWN: Final = 10

_MISSING: Final = object()
_JSON_TYPE_NAMES: Final = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    """JSON Schema applies ``format`` to strings only; other types are ``type``'s business."""

    def wrapped(value: object) -> bool:
        return not isinstance(value, str) or check(value)

    return wrapped


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in FORMATS.items():
        checker.checks(name)(_strings_only(check))
    return checker


def escape_token(token: str | int) -> str:
    """One RFC 6901 reference token."""
    return str(token).replace("~", "~0").replace("/", "~1")


def to_pointer(path: Iterable[str | int]) -> str:
    """A JSON Pointer from path parts; the document itself is ``""``."""
    return "".join("/" + escape_token(p) for p in path)


def split_pointer(pointer: str) -> tuple[str, ...]:
    """The unescaped reference tokens of a JSON Pointer (``""`` is the whole document)."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError("a JSON Pointer is empty or starts with '/'")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/"))


def _resolve(data: object, tokens: tuple[str, ...]) -> object:
    node = data
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                return _MISSING
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


@dataclass(frozen=True, slots=True)
class _DateChain:
    pointers: tuple[str, ...]
    tokens: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class _KindRule:
    """In an object holding ``value`` and ``kind``, ``value`` has the format ``template``
    names once ``{kind}`` is replaced by the kind. ``places``: where the schema declares such
    objects, as property paths with ``*`` for array items (found once, at load)."""

    value: str
    kind: str
    template: str
    places: tuple[tuple[str, ...], ...]

    def fault(self, node: dict[str, Any]) -> str | None:
        value, kind = node.get(self.value), node.get(self.kind)
        if not isinstance(value, str) or not isinstance(kind, str):
            return None
        checker = KIND_FORMATS.get(self.template.replace("{kind}", kind))
        return "unknown kind" if checker is None else checker[1](value)


@dataclass(frozen=True, slots=True)
class _Entry:
    """Everything compiled for one document type."""

    type: str
    schema_id: str
    schema: dict[str, Any]
    fast: Callable[[Any], Any]
    full: Draft7Validator
    date_order: tuple[_DateChain, ...]
    kind_rules: tuple[_KindRule, ...] = ()


DocPath = tuple[str | int, ...]


def _at(
    node: object, place: tuple[str, ...], path: DocPath = ()
) -> Iterator[tuple[DocPath, dict[str, Any]]]:
    """The objects of a document at a schema place, with their concrete paths."""
    if not place:
        if isinstance(node, dict):
            yield path, node
        return
    head, rest = place[0], place[1:]
    if head == "*":
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from _at(item, rest, (*path, i))
    elif isinstance(node, dict) and head in node:
        yield from _at(node[head], rest, (*path, head))


def _kind_violations(rules: tuple[_KindRule, ...], data: object) -> Iterator[Violation]:
    """Every object holding a rule's pair whose value does not fit the declared kind."""
    for rule in rules:
        for place in rule.places:
            for path, node in _at(data, place):
                fault = rule.fault(node)
                if fault is not None:
                    where = to_pointer((*path, rule.value))
                    yield Violation(where, f"{fault} ({rule.kind} {node[rule.kind]})")


def _kind_places(
    schema: dict[str, Any], node: object, kind: str, prefix: tuple[str, ...] = (), depth: int = 0
) -> Iterator[tuple[str, ...]]:
    """Property paths (``*`` for array items) of the objects whose schema declares ``kind``."""
    if not isinstance(node, dict) or depth > 32:
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        target: object = schema
        for token in split_pointer(ref[1:]):
            target = target.get(token) if isinstance(target, dict) else None
        yield from _kind_places(schema, target, kind, prefix, depth + 1)
        return
    props = node.get("properties")
    if isinstance(props, dict):
        if kind in props:
            yield prefix
        for name, child in props.items():
            yield from _kind_places(schema, child, kind, (*prefix, name), depth + 1)
    yield from _kind_places(schema, node.get("items"), kind, (*prefix, "*"), depth + 1)
    branches: list[object] = [node.get("then"), node.get("else")]
    for key in ("allOf", "anyOf", "oneOf"):
        branches.extend(node.get(key) or [])
    for branch in branches:
        yield from _kind_places(schema, branch, kind, prefix, depth + 1)


def _is_before(later: date, earlier: date) -> bool:
    """True if ``later`` is strictly before ``earlier``; a date and a date-time compare by day.

    The day of a date-time is taken in its own offset: a hospital in Yongkang writes
    ``2026-07-11T23:30:00+08:00`` and means the 11th, not the UTC 15:30 of the same day.
    """
    if isinstance(later, datetime) and isinstance(earlier, datetime):
        return later < earlier
    a = later.date() if isinstance(later, datetime) else later
    b = earlier.date() if isinstance(earlier, datetime) else earlier
    return a < b


def _as_moment(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    if len(value) == 10:
        return parse_date(value)
    return parse_date_time(value)


def _date_order_violations(chains: tuple[_DateChain, ...], data: object) -> list[Violation]:
    out: list[Violation] = []
    for chain in chains:
        latest: tuple[str, date] | None = None
        for pointer, tokens in zip(chain.pointers, chain.tokens, strict=True):
            moment = _as_moment(_resolve(data, tokens))
            if moment is None:
                continue
            if latest is not None and _is_before(moment, latest[1]):
                out.append(
                    Violation(pointer, f"must not be before {latest[0]} (dates out of order)")
                )
            else:
                latest = (pointer, moment)
    return out


# --- messages ---------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _type_message(expected: object) -> str:
    names = (
        [expected] if isinstance(expected, str) else expected if isinstance(expected, list) else []
    )
    return "must be " + " or ".join(_JSON_TYPE_NAMES.get(str(n), str(n)) for n in names)


def _enum_message(allowed: list[object]) -> str:
    """The allowed values (schema data, safe to show), shortened when the list is long."""
    shown = ", ".join(_json(v) for v in allowed[:ENUM_SHOWN])
    if len(allowed) > ENUM_SHOWN:
        return f"must be one of the {len(allowed)} values the schema lists, e.g. {shown}"
    return f"must be one of: {shown}"


def _violations_for(error: ValidationError) -> Iterator[Violation]:
    """Turn one jsonschema error into violations whose messages carry no document values."""
    pointer = to_pointer(error.absolute_path)
    rule = error.validator
    expected: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema

    if rule == "required":
        present = instance if isinstance(instance, dict) else {}
        for name in expected:
            if name not in present:
                yield Violation(pointer, f"required property '{name}' is missing")
        return
    if rule == "additionalProperties":
        known = schema.get("properties", {}) if isinstance(schema, dict) else {}
        patterns = schema.get("patternProperties", {}) if isinstance(schema, dict) else {}
        for name in instance if isinstance(instance, dict) else {}:
            if name in known or any(re.search(_whole_end(p), name) for p in patterns):
                continue
            yield Violation(
                to_pointer([*error.absolute_path, name]),
                f"additional property '{name}' is not allowed",
            )
        return
    if rule == "dependencies":
        present = instance if isinstance(instance, dict) else {}
        for name, needs in expected.items():
            if name in present and isinstance(needs, list):
                for need in needs:
                    if need not in present:
                        yield Violation(
                            pointer, f"required property '{need}' is missing (needed by '{name}')"
                        )
        return
    if rule == "format":
        fault = FAULTS.get(expected)
        detail = fault(instance) if fault is not None and isinstance(instance, str) else None
        yield Violation(pointer, detail or FORMAT_MESSAGES.get(expected, f"not a valid {expected}"))
        return
    yield Violation(pointer, _simple_message(rule, expected, error))


def _simple_message(rule: object, expected: Any, error: ValidationError) -> str:
    """Messages for rules with one failure per error. Only schema-side values are quoted."""
    match rule:
        case "type":
            return _type_message(expected)
        case "enum":
            return _enum_message(list(expected))
        case "const":
            return f"must be {_json(expected)}"
        case "pattern":
            return f"does not match the required pattern {expected}"
        case "minLength":
            return f"must be at least {_plural(expected, 'character')} long"
        case "maxLength":
            return f"must be at most {_plural(expected, 'character')} long"
        case "minimum":
            return f"must be at least {expected}"
        case "maximum":
            return f"must be at most {expected}"
        case "exclusiveMinimum":
            return f"must be greater than {expected}"
        case "exclusiveMaximum":
            return f"must be less than {expected}"
        case "multipleOf":
            return f"must be a multiple of {expected}"
        case "minItems":
            return f"must have at least {_plural(expected, 'item')}"
        case "maxItems":
            return f"must have at most {_plural(expected, 'item')}"
        case "uniqueItems":
            return "items must be unique"
        case "minProperties":
            return f"must have at least {_plural(expected, 'property')}"
        case "maxProperties":
            return f"must have at most {_plural(expected, 'property')}"
        case "contains":
            return "must contain at least one item of the required kind"
        case "additionalItems":
            return "has more items than allowed"
        case "not":
            return "matches a form the schema excludes"
        case "oneOf" if not error.context:
            return "matches more than one of the allowed alternatives"
        case "oneOf" | "anyOf":
            return "does not match any of the allowed alternatives"
        case None | False:
            return "is not allowed here"
        case _:
            return f"fails the schema rule '{rule}'"


def _whole_end(pattern: str) -> str:
    """A schema pattern with every unescaped ``$`` as ``\\Z``: ECMA-262's ``$`` (what JSON
    Schema means) is the end of the string, Python's also matches before a final newline."""
    return re.sub(r"(?<!\\)\$", r"\\Z", pattern)


def _fast_fallback(exc: Exception) -> list[Violation]:
    """A violation from the fast validator's exception, for the rare case the two disagree.

    The known case: a pattern ending in ``$``. jsonschema uses ``re.search``, where ``$`` also
    matches before a final line break; fastjsonschema anchors at the true end. The stricter
    answer wins, so a value with a trailing newline is refused, and this says where.
    """
    path = getattr(exc, "path", None) or ["data"]
    rule = getattr(exc, "rule", None) or "schema"
    if rule == "pattern":
        message = f"does not match the required pattern {getattr(exc, 'rule_definition', '')}"
    else:
        message = f"fails the schema rule '{rule}'"
    return [Violation(to_pointer(path[1:]), message.rstrip())]


# --- loading ----------------------------------------------------------------------------------


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key '{key}'")
        out[key] = value
    return out


def _used_formats(node: object) -> Iterator[str]:
    """Every ``format`` name in a schema (string-valued, so a property called "format" is not)."""
    if isinstance(node, dict):
        fmt = node.get("format")
        if isinstance(fmt, str):
            yield fmt
        for value in node.values():
            yield from _used_formats(value)
    elif isinstance(node, list):
        for value in node:
            yield from _used_formats(value)


def _declares(
    schema: dict[str, Any], node: object, tokens: tuple[str, ...], depth: int = 0
) -> bool:
    """Whether the schema declares the property path ``tokens`` (following local ``$ref``)."""
    if not isinstance(node, dict) or depth > 32:
        return False
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        try:
            target: object = schema
            for t in split_pointer(ref[1:]):
                target = target[t]  # type: ignore[index]  # any JSON node; TypeError below
        except (KeyError, TypeError, ValueError):
            return False
        return _declares(schema, target, tokens, depth + 1)
    if not tokens:
        return True
    head, rest = tokens[0], tokens[1:]
    props = node.get("properties")
    if (
        isinstance(props, dict)
        and head in props
        and _declares(schema, props[head], rest, depth + 1)
    ):
        return True
    items = node.get("items")
    if isinstance(items, dict) and head.isdigit() and _declares(schema, items, rest, depth + 1):
        return True
    branches: list[object] = [node.get("then"), node.get("else")]
    for key in ("allOf", "anyOf", "oneOf"):
        branches.extend(node.get(key) or [])
    return any(_declares(schema, b, tokens, depth + 1) for b in branches if b is not None)


def _date_chains(name: str, schema: dict[str, Any]) -> tuple[_DateChain, ...]:
    raw = schema.get(DATE_ORDER_KEYWORD, [])
    where = f"{name}: {DATE_ORDER_KEYWORD}"
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be a list of lists of JSON Pointers")
    chains: list[_DateChain] = []
    for i, chain in enumerate(raw):
        if not isinstance(chain, list) or len(chain) < 2:
            raise ConfigError(f"{where}[{i}] must be a list of at least two JSON Pointers")
        tokens: list[tuple[str, ...]] = []
        for pointer in chain:
            if not isinstance(pointer, str) or not pointer.startswith("/"):
                raise ConfigError(f"{where}[{i}]: {pointer!r} is not a JSON Pointer to a field")
            tokens.append(split_pointer(pointer))
            if not _declares(schema, schema, tokens[-1]):
                raise ConfigError(f"{where}[{i}]: {pointer} is not a property of the schema")
        chains.append(_DateChain(tuple(chain), tuple(tokens)))
    return tuple(chains)


def _kind_rules(name: str, schema: dict[str, Any]) -> tuple[_KindRule, ...]:
    raw = schema.get(KIND_FORMATS_KEYWORD, [])
    where = f"{name}: {KIND_FORMATS_KEYWORD}"
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be a list of {{value, kind, kind_format}} objects")
    rules = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"value", "kind", "kind_format"}:
            raise ConfigError(f"{where}[{i}] must be an object with value, kind and kind_format")
        template = item["kind_format"]
        if not all(isinstance(v, str) for v in item.values()) or "{kind}" not in template:
            raise ConfigError(f"{where}[{i}]: kind_format must be a string holding {{kind}}")
        places = tuple(dict.fromkeys(_kind_places(schema, schema, item["kind"])))
        if not places:
            raise ConfigError(f"{where}[{i}]: no object of the schema declares {item['kind']}")
        rules.append(_KindRule(item["value"], item["kind"], template, places))
    return tuple(rules)


def _load_one(path: Path, checker: FormatChecker) -> _Entry:
    name = path.name
    doc_type = name[: -len(SCHEMA_SUFFIX)]
    try:
        schema = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_refuse_duplicates)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot be read ({exc.__class__.__name__})") from exc
    except ValueError as exc:
        raise ConfigError(f"{name}: not valid JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise ConfigError(f"{name}: a schema must be a JSON object")
    if schema.get("$schema") != DRAFT_07:
        raise ConfigError(f"{name}: $schema must be {DRAFT_07}")
    expected_id = SCHEMA_ID_PREFIX + doc_type
    if schema.get("$id") != expected_id:
        raise ConfigError(f"{name}: $id must be {expected_id}")
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as exc:
        where = to_pointer(exc.absolute_path) or "the top level"
        raise ConfigError(f"{name}: not a valid draft-07 schema at {where}: {exc.message}") from exc
    unknown = sorted(set(_used_formats(schema)) - FORMATS.keys())
    if unknown:
        raise ConfigError(
            f"{name}: unknown format(s) {', '.join(unknown)}; known: {', '.join(sorted(FORMATS))}"
        )
    chains = _date_chains(name, schema)
    kind_rules = _kind_rules(name, schema)
    try:
        fast = fastjsonschema.compile(schema, formats=FORMATS, use_default=False)
    except Exception as exc:  # the code generator can fail in many ways; all are config faults
        raise ConfigError(f"{name}: cannot be compiled: {exc.__class__.__name__}: {exc}") from exc
    full = Draft7Validator(schema, format_checker=checker)
    return _Entry(doc_type, expected_id, schema, fast, full, chains, kind_rules)


class SchemaRegistry:
    """The document types the gateway knows, each with its compiled validators."""

    def __init__(self, entries: dict[str, _Entry]) -> None:
        self._entries = entries
        self._types = sorted(entries)

    @classmethod
    def load(cls, directory: Path) -> SchemaRegistry:
        """Compile every ``<type>.schema.json`` in ``directory``, once, at start-up.

        Any fault is a ``ConfigError`` naming the file: a gateway with a broken schema must
        not start, rather than refuse (or, worse, accept) documents of that type at run time.
        """
        if not directory.is_dir():
            raise ConfigError(f"schema directory {directory} does not exist")
        files = sorted(p for p in directory.iterdir() if p.name.endswith(SCHEMA_SUFFIX))
        if not files:
            raise ConfigError(f"schema directory {directory} holds no *{SCHEMA_SUFFIX} files")
        checker = _format_checker()
        entries = {}
        for path in files:
            entry = _load_one(path, checker)
            entries[entry.type] = entry
        return cls(entries)

    def types(self) -> list[str]:
        """The known document types, sorted."""
        return list(self._types)

    def __contains__(self, doc_type: object) -> bool:
        return doc_type in self._entries

    def _entry(self, doc_type: str) -> _Entry:
        entry = self._entries.get(doc_type)
        if entry is None:
            shown = doc_type[:120] if isinstance(doc_type, str) else repr(doc_type)[:120]
            raise DocumentError(
                f"unknown document type {shown}",
                problem=UNKNOWN_TYPE,
            )
        return entry

    def schema_id(self, doc_type: str) -> str:
        """The ``$id`` of the type's schema (the event's ``dataschema``)."""
        return self._entry(doc_type).schema_id

    def schema(self, doc_type: str) -> dict[str, Any]:
        """A copy of the type's schema, for publishing; the compiled one stays untouched."""
        return copy.deepcopy(self._entry(doc_type).schema)

    def validate(self, doc_type: str, data: object) -> list[Violation]:
        """Every problem of ``data`` as a type's document; ``[]`` when it is valid."""
        entry = self._entry(doc_type)
        try:
            entry.fast(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            failed: Exception | None = exc
        else:
            failed = None
            if not entry.date_order and not entry.kind_rules:
                return []
            order = _date_order_violations(entry.date_order, data)
            if not order and next(_kind_violations(entry.kind_rules, data), None) is None:
                return []
        found: dict[Violation, None] = {}
        for error in entry.full.iter_errors(data):
            for violation in _violations_for(error):
                found[violation] = None
        for violation in _date_order_violations(entry.date_order, data):
            found[violation] = None
        # a value its schema format already refuses is reported once, by that format
        refused = {v.pointer for v in found}
        for violation in _kind_violations(entry.kind_rules, data):
            if violation.pointer not in refused:
                found[violation] = None
        if not found and failed is not None:
            return _fast_fallback(failed)
        return sorted(found, key=lambda v: (v.pointer, v.message))

    def check(self, doc_type: str, data: object) -> None:
        """Raise ``DocumentError`` (422, ``invalid-document``) listing every violation."""
        violations = self.validate(doc_type, data)
        if violations:
            raise DocumentError(
                f"the document does not satisfy the schema of {doc_type}: "
                f"{_plural(len(violations), 'problem')}",
                violations=violations,
                extra={"document_type": doc_type},
            )
