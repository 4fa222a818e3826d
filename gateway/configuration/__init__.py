"""Configuration: TOML files in a directory, loaded into frozen dataclasses.

``load_config(directory)`` reads ``gateway.toml``, ``departments.toml`` and ``routes.toml``.
Every error names the file, the place in it and what is wrong (``ConfigError``).
"""

from gateway.configuration.loader import load_config, parse_routes
from gateway.configuration.model import (
    Condition,
    Config,
    DeliverySettings,
    Department,
    GatewaySettings,
    KeyConfig,
    RetryPolicy,
    Route,
)

__all__ = [
    "Condition",
    "Config",
    "DeliverySettings",
    "Department",
    "GatewaySettings",
    "KeyConfig",
    "RetryPolicy",
    "Route",
    "load_config",
    "parse_routes",
]
