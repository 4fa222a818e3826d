"""Package data from the package: schemas and the default configuration are found with
importlib.resources, and GATEWAY_SCHEMAS / GATEWAY_CONFIG replace them everywhere, the
adapters included. (A wheel installed outside the checkout is exercised by .ci/installed.)"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from adapters.common import records
from adapters.common.cli import default_gateway_id
from gateway.options import Options
from gateway.packaged import default_config_dir, default_schema_dir
from gateway.problems import ConfigError

MARKET = "cn.gov.zj.injury.business_licence.v1"


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    records.registry.cache_clear()
    yield
    records.registry.cache_clear()


def test_without_overrides_the_data_is_the_packages_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_SCHEMAS", raising=False)
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    assert default_schema_dir() == Path(str(resources.files("gateway.schemas")))
    assert default_config_dir() == Path(str(resources.files("gateway.default_config")))
    assert (default_schema_dir() / f"{MARKET}.schema.json").is_file()
    assert (default_config_dir() / "cases" / "work_injury.toml").is_file()
    assert Options().config_dir == default_config_dir()


def test_gateway_schemas_reaches_the_gateway_and_the_adapters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    shutil.copy(default_schema_dir() / f"{MARKET}.schema.json", tmp_path)
    monkeypatch.setenv("GATEWAY_SCHEMAS", str(tmp_path))
    assert default_schema_dir() == tmp_path and Options().schemas_dir == tmp_path
    assert records.registry().types() == [MARKET]


def test_gateway_config_reaches_the_gateway_and_the_adapters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    assert default_gateway_id() == "330000.exchange"
    config = shutil.copytree(default_config_dir(), tmp_path / "config")
    toml = config / "gateway.toml"
    toml.write_text(toml.read_text().replace('"330000.exchange"', '"330000.other"'))
    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    assert Options().config_dir == config
    assert default_gateway_id() == "330000.other"


def test_a_stale_editable_install_is_told_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(package: str) -> None:
        raise ModuleNotFoundError(package)

    monkeypatch.delenv("GATEWAY_SCHEMAS", raising=False)
    monkeypatch.setattr(resources, "files", missing)
    with pytest.raises(ConfigError, match=r"pip install -e \."):
        default_schema_dir()
