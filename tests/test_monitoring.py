"""Monitoring that ships (deploy/): the alert rules pass promtool's checks and their unit tests,
the Grafana dashboard fits Grafana's dashboard JSON model, both name only metrics the gateway
exports, and the compose example loads them.

The dashboard is checked against Grafana's dashboard model as published in
grafana-foundation-sdk (types generated from Grafana's own schema): decoded into that model
and encoded again, nothing of ours may be dropped or changed, so every field is one Grafana
knows, at the place it knows it. Beside that: panel ids unique, the grid 24 columns wide with
no two panels overlapping, every query a Prometheus query with a refId, on the datasource the
compose example provisions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from gateway.metrics import Metrics
from tests.test_deploy import read_block_yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "zj-exchange.json"
# What the issue asks the rules to watch, each by the alert that does.
REQUIRED_ALERTS = {
    "delivery backlog age per recipient": "ZjxDeliveryBacklogOld",
    "breaker open": "ZjxBreakerOpen",
    "dead letters rising": "ZjxDeadLettersRising",
    "case deadline near": "ZjxCaseDeadlineNear",
    "case deadline breached": "ZjxCaseDeadlineBreached",
    "acceptance p99": "ZjxAcceptanceSlow",
    "5xx": "ZjxServerErrors",
    "store unavailable": "ZjxStoreUnavailable",
    "audit chain broken": "ZjxAuditChainBroken",
}
METRIC = re.compile(r"\b((?:zjx|process|python)_[a-z_]+)\b")


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool missing in CI: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (Debian package prometheus)")
    return promtool


def _run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False, cwd=DEPLOY)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def exported_series() -> set[str]:
    """Every series name a gateway's /metrics can carry (families with labels included)."""
    names = {"up"}  # Prometheus's own, per scrape target
    for family in Metrics().registry.collect():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


def test_promtool_checks_the_alert_rules() -> None:
    out = _run(_promtool(), "check", "rules", "alerts.yml")
    assert f"SUCCESS: {len(_rules())} rules found" in out


def test_promtool_unit_tests_of_the_alert_rules_pass() -> None:
    """alerts.test.yml feeds series and expects each alert to fire (or not) at given times."""
    out = _run(_promtool(), "test", "rules", "alerts.test.yml")
    assert "SUCCESS" in out


def test_every_concern_has_an_alert_with_a_unit_test() -> None:
    names = {rule["alert"] for rule in _rules()}
    tests = yaml.safe_load((DEPLOY / "alerts.test.yml").read_text(encoding="utf-8"))
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    for concern, alert in REQUIRED_ALERTS.items():
        assert alert in names, f"no alert for {concern}"
        assert alert in tested, f"{alert} ({concern}) is never seen firing in alerts.test.yml"
    assert names <= tested, f"alerts never tested firing: {sorted(names - tested)}"


def test_rules_name_only_metrics_the_gateway_exports() -> None:
    exported = exported_series()
    for rule in _rules():
        for metric in METRIC.findall(rule["expr"]):
            assert metric in exported, f"{rule['alert']}: {metric} is not exported"


def _dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


def _not_kept(ours: Any, theirs: Any, path: str = "") -> Iterator[str]:
    """Places where ``theirs`` lost or changed something of ``ours``."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            yield path
            return
        for key, value in ours.items():
            if key not in theirs:
                yield f"{path}/{key}"
            else:
                yield from _not_kept(value, theirs[key], f"{path}/{key}")
    elif isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            yield path
            return
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            yield from _not_kept(mine, other, f"{path}/{index}")
    elif ours != theirs:
        yield f"{path}: {ours!r} became {theirs!r}"


def _through_grafana_model(document: dict[str, Any]) -> list[str]:
    register_default_plugins()
    model = Dashboard.from_json(document)
    return list(_not_kept(document, json.loads(json.dumps(model, cls=JSONEncoder))))


def test_dashboard_fits_grafanas_dashboard_model() -> None:
    dashboard = _dashboard()
    assert _through_grafana_model(dashboard) == []
    # the check can fail: a misspelt field and a field at the wrong level are found
    broken = json.loads(json.dumps(dashboard))
    broken["panels"][1]["gridpos"] = broken["panels"][1].pop("gridPos")
    broken["refreshInterval"] = "30s"
    assert set(_through_grafana_model(broken)) == {"/panels/1/gridpos", "/refreshInterval"}


def _visual_panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def test_dashboard_layout_and_queries() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "zj-exchange" and dashboard["schemaVersion"] >= 36
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
    datasource = _provisioned_datasource()
    for panel in _visual_panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}
        refs = [t["refId"] for t in panel["targets"]]
        assert panel["targets"] and len(refs) == len(set(refs)), panel["title"]


def test_dashboard_covers_traffic_latency_backlog_breakers_cases() -> None:
    rows = {p["title"] for p in _dashboard()["panels"] if p["type"] == "row"}
    assert {"Traffic", "Latency", "Delivery backlog", "Breakers", "Cases"} <= rows
    exported = exported_series()
    shown = set()
    for panel in _visual_panels():
        for target in panel["targets"]:
            for metric in METRIC.findall(target["expr"]):
                assert metric in exported, f"{panel['title']}: {metric} is not exported"
                shown.add(metric)
    for metric in (
        "zjx_messages_accepted_total",
        "zjx_accept_latency_seconds_bucket",
        "zjx_deliveries_oldest_pending_age_seconds",
        "zjx_breaker_open",
        "zjx_cases_open",
        "process_resident_memory_bytes",
    ):
        assert metric in shown, f"the dashboard does not show {metric}"


def _provisioned_datasource() -> dict[str, Any]:
    path = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
    (datasource,) = read_block_yaml(path.read_text(encoding="utf-8"))["datasources"]
    assert isinstance(datasource, dict)
    return datasource


def test_compose_loads_the_rules_and_the_dashboard() -> None:
    compose = read_block_yaml((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    prometheus = read_block_yaml((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    assert prometheus["rule_files"] == ["alerts.yml"]
    assert "./alerts.yml:/etc/prometheus/alerts.yml:ro" in services["prometheus"]["volumes"]
    grafana = services["grafana"]
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in grafana["volumes"])
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = read_block_yaml(
        (DEPLOY / "grafana/provisioning/dashboards/zj-exchange.yaml").read_text(encoding="utf-8")
    )["providers"][0]
    dashboards_dir = provider["options"]["path"]
    assert mounts["./grafana/dashboards"] == dashboards_dir
    assert (DEPLOY / "grafana/dashboards" / DASHBOARD.name).is_file()
    assert _provisioned_datasource()["url"] == "http://prometheus:9090"
