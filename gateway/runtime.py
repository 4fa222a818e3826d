"""Everything a running gateway holds, built from configuration and the data directory.

``Runtime`` is the one object the HTTP layer, the dispatcher and the CLI share. Keeping the
acceptance context (configuration, routes, keys, schemas) in one swappable object lets an
administrator's change apply to the next message without a restart and without a lock on
the request path: a request reads ``runtime.context`` once and uses that snapshot throughout.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from gateway.acceptance import AcceptanceContext, Accepted, Acceptor
from gateway.cases import CaseDefinition, CaseService, load_definition
from gateway.clock import Clock, SystemClock
from gateway.configuration import Config, load_config
from gateway.delivery import Dispatcher, Notifier
from gateway.metrics import Metrics
from gateway.problems import ConfigError, GatewayError
from gateway.routing import Router
from gateway.storage.base import Store
from gateway.storage.wakeup import Wakeup
from gateway.trust import KeyRecord, KeyRegistry, SigningKey, TokenVerifier
from gateway.validation import SchemaRegistry, default_schema_dir

log = structlog.get_logger("gateway.runtime")

REPO_ROOT = Path(__file__).resolve().parents[1]
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Options:
    """What ``gateway serve`` is told. Environment variables supply the defaults."""

    config_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("GATEWAY_CONFIG", REPO_ROOT / "config"))
    )
    data_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("GATEWAY_DATA_DIR", REPO_ROOT / "data"))
    )
    schemas_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("GATEWAY_SCHEMAS", default_schema_dir()))
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
    run_dispatcher: bool = True
    clock: Clock = field(default_factory=SystemClock)
    # This instance among those on one store: names its delivery claims. Stable across
    # restarts (GATEWAY_INSTANCE, else host name and port), so a restarted instance takes up
    # at once what its previous run had claimed; random when the port is (tests on port 0).
    instance: str = field(default_factory=lambda: os.environ.get("GATEWAY_INSTANCE", ""))
    # Tests and the demo hand in a configuration built in memory instead of a directory.
    config: Config | None = None


def instance_identity(options: Options) -> str:
    """``options.instance``, else ``<host name>:<port>``, else (port 0) a random id."""
    if options.instance:
        return options.instance
    if options.port:
        return f"{socket.gethostname()}:{options.port}"
    return uuid.uuid4().hex[:12]


def load_gateway_key(config: Config, data_dir: Path) -> SigningKey:
    """The gateway's own signing key: configured, or a development key made on first start."""
    if config.gateway.key_file is not None:
        return SigningKey.load(config.gateway.key_file)
    if not config.gateway.dev_keys:
        raise ConfigError("gateway.toml: gateway.key_file is required when dev_keys is false")
    path = data_dir / "dev-keys" / "gateway.jwk"
    return _dev_key(path, f"{config.gateway.id}/dev")


def _dev_key(path: Path, kid: str) -> SigningKey:
    """The development key at ``path``, made on first start. Instances starting together on
    one data directory each make a key, but only one file is created (``SigningKey.save``
    never overwrites, and a file appears complete); the others load the winner's key, so all
    of them sign with, and publish, the same key."""
    if path.exists():
        return SigningKey.load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate(kid)
    try:
        key.save(path)
    except FileExistsError:
        return SigningKey.load(path)  # another instance created it first
    log.warning("DEVELOPMENT KEY GENERATED: never use in production", kid=kid, path=str(path))
    return key


def dev_key_path(data_dir: Path, department: str) -> Path:
    return data_dir / "dev-keys" / f"{department}.jwk"


def build_key_registry(config: Config, data_dir: Path, gateway_key: SigningKey) -> KeyRegistry:
    """Departments' public keys from configuration (or dev keys), plus the gateway's own."""
    registry = KeyRegistry()
    registry.add(
        KeyRecord(gateway_key.kid, config.gateway.id, gateway_key.public_jwk(), EPOCH, None, None)
    )
    for department in config.departments.values():
        for key in department.keys:
            kid = f"{department.id}/{key.name}"
            try:
                record = KeyRecord(
                    kid,
                    department.id,
                    {**key.jwk, "kid": kid},
                    key.not_before or EPOCH,
                    key.not_after,
                    key.revoked_at,
                )
            except GatewayError as exc:
                raise ConfigError(f"departments.toml: key {kid}: {exc.detail}") from None
            registry.add(record)
        if not department.keys and config.gateway.dev_keys:
            dev = _dev_key(dev_key_path(data_dir, department.id), f"{department.id}/dev")
            registry.add(KeyRecord(dev.kid, department.id, dev.public_jwk(), EPOCH, None, None))
    return registry


def build_context(
    config: Config, schemas: SchemaRegistry, data_dir: Path, gateway_key: SigningKey
) -> AcceptanceContext:
    unknown = sorted(
        t
        for d in config.departments.values()
        for t in d.sends | d.receives
        if t not in schemas.types()
    )
    if unknown:
        raise ConfigError(f"departments.toml: document types without a schema: {unknown}")
    return AcceptanceContext(
        config=config,
        router=Router(config.routes, config.departments),
        keys=build_key_registry(config, data_dir, gateway_key),
        schemas=schemas,
        gateway_key=gateway_key,
    )


@dataclass(slots=True)
class Runtime:
    options: Options
    context: AcceptanceContext
    store: Store
    clock: Clock
    metrics: Metrics
    notifier: Notifier
    acceptor: Acceptor
    tokens: TokenVerifier
    dispatcher: Dispatcher | None = None
    cases: CaseService | None = None
    instance: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def config(self) -> Config:
        return self.context.config

    def committed(self, accepted: Accepted) -> None:
        """After a new message commits: count it and wake delivery (push and pull)."""
        record = accepted.record
        self.metrics.messages_accepted.labels(
            self.metrics.type_label(record.type), self.metrics.dept_label(record.source)
        ).inc()
        self.notifier.notified(Wakeup.for_recipients(accepted.recipients))


def load_case_definition(config: Config) -> CaseDefinition | None:
    """The case definition named in gateway.toml ``[cases]``, checked against departments."""
    if config.cases.definition is None:
        return None
    definition = load_definition(config.cases.definition)
    unknown = sorted(definition.departments() - set(config.departments))
    if unknown:
        raise ConfigError(
            f"{config.cases.definition}: departments not in departments.toml: {unknown}"
        )
    return definition


def load_case_key(config: Config, data_dir: Path, definition: CaseDefinition) -> SigningKey:
    """The hosted case service's signing key: configured, or its development key."""
    if config.cases.key_file is not None:
        return SigningKey.load(config.cases.key_file)
    if not config.gateway.dev_keys:
        raise ConfigError("gateway.toml: cases.key_file is required when dev_keys is false")
    return _dev_key(dev_key_path(data_dir, definition.service), f"{definition.service}/dev")


def load_static(options: Options) -> tuple[Config, SchemaRegistry, SigningKey]:
    config = options.config or load_config(options.config_dir)
    schemas = SchemaRegistry.load(options.schemas_dir)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    return config, schemas, load_gateway_key(config, options.data_dir)
