"""Configuration values back as the tables they are written in (``departments.toml``,
``routes.toml``), for the admin API's ``GET``: what it answers, ``PUT`` takes back unchanged.

TOML has no null, so an absent setting is left out rather than written as ``null`` (a route
without ``to_pointer`` has no such key); durations are written in the configuration's own
form (``"10s"``). ``parse_departments`` / ``parse_routes`` of a table made here give back an
equal value.
"""

from __future__ import annotations

from typing import Any

from gateway.configuration.model import DeliverySettings, Department, Route


def department_table(department: Department) -> dict[str, Any]:
    """The department as its ``[[departments]]`` table, without its keys (they have calls of
    their own) and without ``enabled`` (enable and disable are calls of their own)."""
    table: dict[str, Any] = {
        "id": department.id,
        "name": department.name,
        "sends": sorted(department.sends),
        "receives": sorted(department.receives),
        "delivery": delivery_table(department.delivery),
    }
    if department.name_zh:
        table["name_zh"] = department.name_zh
    return table


def delivery_table(delivery: DeliverySettings) -> dict[str, Any]:
    table: dict[str, Any] = {"mode": delivery.mode}
    if delivery.endpoint is not None:
        table["endpoint"] = delivery.endpoint
    table["timeout"] = seconds(delivery.timeout_seconds)
    table["concurrency"] = delivery.concurrency
    return table


def seconds(value: float) -> str:
    """A duration in seconds in the configuration's form: ``10s``, ``2.5s``, ``250ms``."""
    if value < 1 and (value * 1000).is_integer():
        return f"{int(value * 1000)}ms"
    return f"{int(value)}s" if float(value).is_integer() else f"{value!r}s"


def route_table(route: Route) -> dict[str, Any]:
    """The route as its ``[[routes]]`` table: ``to_pointer`` and ``when`` only when set."""
    table: dict[str, Any] = {"name": route.name, "type": route.type, "to": list(route.to)}
    if route.to_pointer is not None:
        table["to_pointer"] = route.to_pointer
    if route.when:
        table["when"] = {c.pointer: list(c.values) for c in route.when}
    return table
