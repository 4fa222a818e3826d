"""What ``gateway serve`` is told: directories, the store, the listening address, timings.

Every field has an environment variable as its default (``GATEWAY_*``), so a container is
configured without a command line. Tests and the demo build ``Options`` directly, with a
configuration made in memory and a manual clock.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from gateway.clock import Clock, SystemClock
from gateway.configuration import Config
from gateway.packaged import default_config_dir, default_schema_dir


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


@dataclass(slots=True)
class Options:
    """What a gateway instance is started with. Environment variables supply the defaults."""

    config_dir: Path = field(
        default_factory=lambda: _env_path("GATEWAY_CONFIG", default_config_dir())
    )
    # the working directory's ``data/`` unless told otherwise: an installed gateway never
    # writes into its own installation
    data_dir: Path = field(default_factory=lambda: _env_path("GATEWAY_DATA_DIR", Path("data")))
    schemas_dir: Path = field(
        default_factory=lambda: _env_path("GATEWAY_SCHEMAS", default_schema_dir())
    )
    database: str | None = field(default_factory=lambda: os.environ.get("GATEWAY_DATABASE"))
    host: str = field(default_factory=lambda: os.environ.get("GATEWAY_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("GATEWAY_PORT", "8080")))
    poll_interval: float = 1.0
    # how often an instance on a shared store looks for another instance's admin change
    admin_poll: float = field(
        default_factory=lambda: float(os.environ.get("GATEWAY_ADMIN_POLL_SECONDS", "2"))
    )
    # How long a claimed push delivery stays with this instance. An instance that dies holding
    # claims delays them by up to this long before another instance takes them over; a push
    # that lasts longer than this may be sent twice. Short leases are for tests.
    lease_seconds: float = field(
        default_factory=lambda: float(os.environ.get("GATEWAY_LEASE_SECONDS", "120"))
    )
    # the dispatcher, the deadline watch and retention (the admin-state follower always runs);
    # tests drive them by hand instead
    run_dispatcher: bool = True
    clock: Clock = field(default_factory=SystemClock)
    # This instance among those on one store: names its delivery claims. Stable across
    # restarts (GATEWAY_INSTANCE, else host name and port: ``identity``), so a restarted
    # instance takes up at once what its previous run had claimed.
    instance: str = field(default_factory=lambda: os.environ.get("GATEWAY_INSTANCE", ""))
    # Tests and the demo hand in a configuration built in memory instead of a directory.
    config: Config | None = None


def identity(options: Options) -> str:
    """``options.instance``, else ``<host name>:<port>`` (two instances on one host listen on
    different ports), else, for port 0 (tests, each on a free port), a random id."""
    if options.instance:
        return options.instance
    if options.port:
        return f"{socket.gethostname()}:{options.port}"
    return uuid.uuid4().hex[:12]
