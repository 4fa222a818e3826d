"""A configuration directory checked whole for a reload: every error at once, and the settings
only a restart may change refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

from gateway.configuration import load_config
from gateway.configuration.check import check_directory
from gateway.packaged import default_config_dir

SHIPPED = default_config_dir()


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_directory_checks_and_reads_like_load_config(tmp_path: Path) -> None:
    running = load_config(SHIPPED)
    checked = check_directory(_copy(tmp_path), running)
    assert checked.errors == ()
    assert checked.config is not None
    assert checked.config.routes == running.routes
    assert checked.config.departments == running.departments


def test_errors_in_two_files_are_reported_together(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(directory / "gateway.toml", 'initial = "5s"', 'initial = "soon"')
    _edit(directory / "routes.toml", 'to = ["330784.hrss.recognition"]', 'to = ["330784.nowhere"]')
    checked = check_directory(directory, load_config(SHIPPED))
    assert checked.config is None
    assert len(checked.errors) == 2
    assert "gateway.toml" in checked.errors[0] and "retry.initial" in checked.errors[0]
    assert "routes.toml" in checked.errors[1] and "330784.nowhere" in checked.errors[1]


def test_broken_departments_leave_the_routes_unchecked_and_say_so(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(directory / "departments.toml", 'id = "330784.zlb"', 'id = "not an id"')
    checked = check_directory(directory, load_config(SHIPPED))
    assert checked.config is None
    assert "departments.toml" in checked.errors[0]
    assert checked.errors[1] == "routes.toml: not checked until departments.toml reads"


def test_settings_read_once_at_start_are_refused_by_name(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(directory / "gateway.toml", 'id = "330000.exchange"', 'id = "330000.other"')
    checked = check_directory(directory, load_config(SHIPPED))
    assert checked.config is None
    assert checked.errors == (
        "gateway.id changed: it takes effect only with a restart; put it back to reload the rest",
    )
    assert (
        check_directory(tmp_path / "missing", load_config(SHIPPED))
        .errors[0]
        .endswith("configuration directory not found")
    )


def test_crypto_and_http_need_a_restart_and_events_reload(tmp_path: Path) -> None:
    """``[crypto]`` is the store's and ``[http]`` the HTTP server's, both built at start;
    ``[events]`` is read from the configuration in force at each message."""
    directory = _copy(tmp_path)
    _edit(directory / "gateway.toml", 'digest = "sha256"', 'digest = "sm3"')
    _edit(directory / "gateway.toml", "page_bytes = 1048576", "page_bytes = 65536")
    checked = check_directory(directory, load_config(SHIPPED))
    assert checked.config is None
    assert [error.split(" changed:")[0] for error in checked.errors] == [
        "[crypto] digest",
        "[http] page_bytes",
    ]
    events_only = _copy(tmp_path / "events")
    _edit(events_only / "gateway.toml", "max_extensions = 8", "max_extensions = 2")
    reloaded = check_directory(events_only, load_config(SHIPPED))
    assert reloaded.errors == ()
    assert reloaded.config is not None and reloaded.config.events.max_extensions == 2
