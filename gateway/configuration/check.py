"""Checking a configuration directory whole, for a reload (SIGHUP, ``POST /admin/v1/reload``).

``load_config`` stops at the first error, which is right at start-up. A reload instead reports
every error it can find in one pass, so an operator fixes the files once: ``gateway.toml`` and
``departments.toml`` are read each on its own, ``routes.toml`` is checked against the
departments when they parse, and the new configuration is compared with the one in force for
the settings only a restart can change (the gateway's identity and signing key, the message
size limit the HTTP server was built with, the case layer, ``[crypto]`` and ``[http]``). The
caller swaps the result in only when there is no error; otherwise the running configuration
stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from gateway.configuration.loader import (
    assemble,
    config_directory,
    load_departments_file,
    load_gateway_file,
    load_routes_file,
)
from gateway.configuration.model import Config, CryptoSettings, TransportLimits
from gateway.problems import ConfigError

T = TypeVar("T")


def _field(section: str, name: str) -> tuple[str, Callable[[Config], Any]]:
    return f"[{section}] {name}", lambda c: getattr(getattr(c, section), name)


# Settings read once at start; a reload that changes one is refused, naming it. ``[crypto]``
# is the store's (its chain digest, its at-rest codec and key ring, opened with the store) and
# ``[http]`` the HTTP server's (its connection handler and limits, built before it listens);
# ``[events]`` is read from the configuration in force at each message, so it reloads.
RESTART_ONLY: tuple[tuple[str, Callable[[Config], Any]], ...] = (
    ("gateway.id", lambda c: c.gateway.id),
    ("gateway.key_file", lambda c: c.gateway.key_file),
    ("gateway.dev_keys", lambda c: c.gateway.dev_keys),
    ("gateway.max_message_bytes", lambda c: c.gateway.max_message_bytes),
    ("[cases] definition", lambda c: _contents(c.cases.definition)),
    ("[cases] key_file", lambda c: c.cases.key_file),
    *(_field("crypto", f.name) for f in fields(CryptoSettings)),
    *(_field("http", f.name) for f in fields(TransportLimits)),
)


def _contents(path: Path | None) -> bytes | None:
    """A file compared by what it says, not where it lies (None: no file, or unreadable)."""
    try:
        return None if path is None else path.read_bytes()
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class Checked:
    """The configuration read from the directory (None when it has errors), and the errors."""

    config: Config | None
    errors: tuple[str, ...]


def check_directory(directory: Path, running: Config) -> Checked:
    """Every error of ``directory``'s files, or the configuration they make."""
    errors: list[str] = []
    try:
        directory = config_directory(directory)
    except ConfigError as exc:
        return Checked(None, (exc.detail,))
    gateway = _collect(errors, lambda: load_gateway_file(directory))
    departments = _collect(errors, lambda: load_departments_file(directory))
    if departments is None:
        errors.append("routes.toml: not checked until departments.toml reads")
        return Checked(None, tuple(errors))
    routes = _collect(errors, lambda: load_routes_file(directory, departments))
    if gateway is None or routes is None:
        return Checked(None, tuple(errors))
    config = assemble(directory, gateway, departments, routes)
    errors.extend(restart_only_changes(running, config))
    return Checked(None if errors else config, tuple(errors))


def _collect(errors: list[str], read: Callable[[], T]) -> T | None:
    try:
        return read()
    except ConfigError as exc:
        errors.append(exc.detail)
        return None


def restart_only_changes(running: Config, new: Config) -> list[str]:
    """One error per setting that differs and that only a restart applies."""
    return [
        f"{name} changed: it takes effect only with a restart; put it back to reload the rest"
        for name, read in RESTART_ONLY
        if read(running) != read(new)
    ]
