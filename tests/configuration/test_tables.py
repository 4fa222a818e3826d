"""Departments and routes written back as their tables read again as the same values: what
the admin API's GET answers, PUT takes back (there was a ``to_pointer: null`` that PUT
refused)."""

from __future__ import annotations

from gateway.configuration import load_config
from gateway.configuration.loader import parse_departments, parse_routes
from gateway.configuration.model import DeliverySettings, Department
from gateway.configuration.tables import department_table, route_table, seconds
from gateway.packaged import default_config_dir

CONFIG = load_config(default_config_dir())


def test_every_shipped_department_round_trips() -> None:
    tables = [department_table(d) for d in CONFIG.departments.values()]
    again = parse_departments({"departments": tables}, "test")
    for dept_id, department in CONFIG.departments.items():
        assert again[dept_id] == department


def test_a_push_department_round_trips_with_its_endpoint_and_timeout() -> None:
    push = Department(
        "330784.health.h002",
        "second hospital",
        sends=frozenset({"cn.gov.zj.injury.medical_diagnosis.v1"}),
        delivery=DeliverySettings("push", "https://h002.example/inbound", 2.5, 8),
    )
    table = department_table(push)
    assert table["delivery"] == {
        "mode": "push",
        "endpoint": "https://h002.example/inbound",
        "timeout": "2.5s",
        "concurrency": 8,
    }
    assert "name_zh" not in table and "keys" not in table
    assert parse_departments({"departments": [table]}, "test")[push.id] == push


def test_every_shipped_route_round_trips_without_nulls() -> None:
    tables = [route_table(r) for r in CONFIG.routes]
    assert all(None not in t.values() for t in tables)
    assert [t for t in tables if "to_pointer" in t]  # a route that takes recipients from data
    assert parse_routes({"routes": tables}, "test", CONFIG.departments) == CONFIG.routes


def test_a_conditional_route_round_trips() -> None:
    given = {
        "name": "commuting-to-traffic",
        "type": "cn.gov.zj.injury.application_form.v1",
        "to": ["330784.police.traffic"],
        "when": {"/data/injury/accident_kind": ["commuting", "traffic"]},
    }
    (route,) = parse_routes({"routes": [given]}, "test", CONFIG.departments)
    assert route_table(route) == given


def test_durations_in_the_configuration_form() -> None:
    assert [seconds(v) for v in (10.0, 2.5, 0.25, 90.0)] == ["10s", "2.5s", "250ms", "90s"]
