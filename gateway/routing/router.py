"""Decide the recipients of an accepted event.

Routes are indexed by document type once, when the configuration is loaded, so a lookup
costs one dict access plus the routes of that type, however many routes exist. A decision
carries its reasons, so the administrators' dry run can answer "who and why".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.configuration.model import Condition, Department, Route

_MISSING = object()


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 lookup; ``_MISSING`` when absent. Hand-written: ten lines, no dependency."""
    if pointer == "":
        return document
    current = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(current, Mapping):
            if token not in current:
                return _MISSING
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return _MISSING
    return current


def _holds(condition: Condition, event: Mapping[str, Any]) -> bool:
    value = resolve_pointer(event, condition.pointer)
    return value is not _MISSING and value in condition.values


@dataclass(frozen=True, slots=True)
class Decision:
    recipients: tuple[str, ...]
    matched: tuple[str, ...]  # route names that applied
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> why it was dropped

    def explain(self) -> dict[str, Any]:
        return {
            "recipients": list(self.recipients),
            "routes": list(self.matched),
            "dropped": dict(self.refused),
        }


class Router:
    def __init__(self, routes: tuple[Route, ...], departments: Mapping[str, Department]) -> None:
        self._departments = departments
        self._by_type: dict[str, list[Route]] = defaultdict(list)
        for route in routes:
            self._by_type[route.type].append(route)

    def decide(self, event: Mapping[str, Any]) -> Decision:
        """Recipients for ``event`` (the parsed CloudEvent as a mapping, ``data`` included)."""
        doc_type = event.get("type")
        source = event.get("source")
        candidates: dict[str, None] = {}
        matched: list[str] = []
        for route in self._by_type.get(doc_type, ()) if isinstance(doc_type, str) else ():
            if all(_holds(c, event) for c in route.when):
                matched.append(route.name)
                for target in (*route.to, *self._pointed(route, event)):
                    candidates.setdefault(target)
        recipients: list[str] = []
        refused: dict[str, str] = {}
        for target in candidates:
            reason = self._refusal(target, doc_type, source)
            if reason:
                refused[target] = reason
            else:
                recipients.append(target)
        return Decision(tuple(recipients), tuple(matched), refused)

    @staticmethod
    def _pointed(route: Route, event: Mapping[str, Any]) -> tuple[str, ...]:
        if route.to_pointer is None:
            return ()
        value = resolve_pointer(event, route.to_pointer)
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            return tuple(v for v in value if isinstance(v, str))
        return ()

    def _refusal(self, target: str, doc_type: Any, source: Any) -> str | None:
        department = self._departments.get(target)
        if department is None:
            return "not a known department"
        if not department.enabled:
            return "department disabled"
        if target == source:
            return "is the sender"
        if doc_type not in department.receives:
            return "may not receive this type"
        return None
