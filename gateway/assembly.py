"""What a gateway is assembled from: configuration, schemas, the gateway's key, the
departments' keys, the case definition and the hosted case service's key.

These are read once at start (``gateway serve``) or by a CLI command; the running services
are built from them in ``gateway.api.services``. Development keys are made on first start
when the configuration allows it, so ``gateway serve`` needs nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import structlog

from gateway.acceptance import AcceptanceContext
from gateway.cases import CaseDefinition, load_definition
from gateway.configuration import Config, load_config
from gateway.options import Options
from gateway.problems import ConfigError, GatewayError
from gateway.routing import Router
from gateway.trust import KeyRecord, KeyRegistry, SigningKey
from gateway.validation import SchemaRegistry

log = structlog.get_logger("gateway.assembly")

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


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
    """Where a department's development key lives (tests and the demo sign with it)."""
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
    """The acceptance context of the configuration as loaded (before any admin change)."""
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
    """Configuration, schemas and the gateway's key; the data directory exists afterwards."""
    config = options.config or load_config(options.config_dir)
    schemas = SchemaRegistry.load(options.schemas_dir)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    return config, schemas, load_gateway_key(config, options.data_dir)
