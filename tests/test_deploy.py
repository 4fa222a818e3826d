"""The deployment example (deploy/): two gateway instances on one PostgreSQL database, and a
Prometheus that scrapes both.

No YAML library is a dependency, so the files are kept to a plain block subset of YAML
(mappings, lists, scalars; no anchors or flow collections) and read here by a small reader
that refuses anything outside it. Where promtool is installed it checks prometheus.yml too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
GATEWAYS = ("gateway-1", "gateway-2")

Line = tuple[int, str]


def read_block_yaml(text: str) -> Any:
    """The value of a YAML document written in the block subset; every line must be used."""
    lines = [
        (len(raw) - len(raw.lstrip(" ")), raw.strip())
        for raw in text.splitlines()
        if raw.strip() and not raw.lstrip().startswith("#")
    ]
    value, end = _block(lines, 0)
    assert end == len(lines), f"outside the block subset at {lines[end][1]!r}"
    return value


def _is_item(line: Line) -> bool:
    return line[1] == "-" or line[1].startswith("- ")


def _block(lines: list[Line], i: int) -> tuple[Any, int]:
    if _is_item(lines[i]):
        return _sequence(lines, i, lines[i][0])
    return _mapping(lines, i, lines[i][0])


def _sequence(lines: list[Line], i: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and _is_item(lines[i]):
        rest = lines[i][1][2:].strip()
        if rest[:1] not in ("'", '"') and (": " in rest or rest.endswith(":")):
            lines[i] = (indent + 2, rest)  # "- key: value": a mapping item
            mapping, i = _mapping(lines, i, indent + 2)
            items.append(mapping)
        else:
            items.append(_scalar(rest))
            i += 1
    return items, i


def _mapping(lines: list[Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent and not _is_item(lines[i]):
        key, colon, rest = lines[i][1].partition(":")
        assert colon, f"not a mapping entry: {lines[i][1]!r}"
        assert key not in result, f"duplicate key {key!r}"
        i += 1
        nested = i < len(lines) and lines[i][0] > indent
        if rest.strip():
            result[key] = _scalar(rest.strip())
        elif nested:
            result[key], i = _block(lines, i)
        else:
            result[key] = None
    return result, i


def _scalar(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in ("'", '"'):
        return text[1:-1]
    assert not text.startswith(("[", "{", "&", "*", "|", ">")), f"outside the subset: {text!r}"
    return text


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = read_block_yaml((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return data


def test_reader_refuses_what_it_does_not_understand() -> None:
    assert read_block_yaml("a:\n  b: 1\n  c:\n    - x\n    - k: v\n      n: m\n") == {
        "a": {"b": "1", "c": ["x", {"k": "v", "n": "m"}]}
    }
    with pytest.raises(AssertionError):
        read_block_yaml("a: [1, 2]\n")
    with pytest.raises(AssertionError):
        read_block_yaml("a:\n    b: 1\n  c: 2\n")


def test_both_instances_use_one_postgresql_database(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    urls = {services[name]["environment"]["GATEWAY_DATABASE"] for name in GATEWAYS}
    assert len(urls) == 1, f"the instances use different databases: {urls}"
    url = urlsplit(urls.pop())
    assert url.scheme == "postgresql" and url.hostname == "postgres"
    env = services["postgres"]["environment"]
    assert (url.username, url.password, url.path) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        "/" + env["POSTGRES_DB"],
    )
    for name in GATEWAYS:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_instances_are_built_from_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    for name in GATEWAYS:
        build = compose["services"][name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == REPO and (context / build["dockerfile"]).is_file()
    assert "EXPOSE 8080" in (REPO / "Dockerfile").read_text(encoding="utf-8")


def test_instances_share_keys_and_start_one_after_the_other(compose: dict[str, Any]) -> None:
    """One data volume, so one set of development keys; the second starts once the first
    (which makes the keys on a fresh volume) is healthy."""
    services = compose["services"]
    mounts = {tuple(services[name]["volumes"]) for name in GATEWAYS}
    assert mounts == {("gateway-data:/var/lib/zj-exchange",)}
    assert "gateway-data" in compose["volumes"]
    assert services["gateway-2"]["depends_on"]["gateway-1"]["condition"] == "service_healthy"


def test_prometheus_scrapes_both_instances(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    config = read_block_yaml((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = config["scrape_configs"]
    targets = {
        target
        for job in jobs
        if job.get("metrics_path", "/metrics") == "/metrics"
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert targets == {f"{name}:8080" for name in GATEWAYS}


def test_promtool_accepts_prometheus_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool missing in CI: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (Debian package prometheus)")
    result = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_names_the_state_kept_per_instance() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    shared, _, per_instance = text.partition("## What is still per instance")
    for state in ("Breaker state", "Streams per department"):
        assert state in per_instance, f"deploy/README.md does not list {state} as per instance"
    for state in ("Department tokens", "administration overlay", "Wake-ups", "410", "Claims"):
        assert state in shared, f"deploy/README.md does not say how {state} are shared"
        assert state not in per_instance
