"""Data the gateway ships with: the JSON Schemas and the default configuration.

They are found with ``importlib.resources``, so an installed wheel works from any working
directory. In the source tree they are the top-level ``schemas/`` and ``config/`` folders
(DESIGN section 2 fixes those); ``setup.py`` maps them into the package as
``gateway.schemas`` and ``gateway.default_config``, so the same name resolves in an editable
install (to the folders themselves) and in a wheel (to the copies inside it). Each folder
holds an ``__init__.py`` for that reason only. ``GATEWAY_SCHEMAS`` and ``GATEWAY_CONFIG``
replace either.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from gateway.problems import ConfigError

SCHEMAS_PACKAGE = "gateway.schemas"
CONFIG_PACKAGE = "gateway.default_config"


def _directory(package: str) -> Path:
    """The packaged folder as a directory on disk (wheels are installed unzipped)."""
    try:
        found = resources.files(package)
    except ModuleNotFoundError:
        raise ConfigError(
            f"{package} is not installed: an editable install made before setup.py mapped "
            "schemas/ and config/ into the package; run `pip install -e .` again"
        ) from None
    path = Path(str(found))
    if not path.is_dir():
        raise ConfigError(f"{package}: packaged data is not a directory on disk ({found})")
    return path


def default_schema_dir() -> Path:
    """``GATEWAY_SCHEMAS`` if set, else the schemas shipped with the package."""
    value = os.environ.get("GATEWAY_SCHEMAS")
    return Path(value) if value else _directory(SCHEMAS_PACKAGE)


def default_config_dir() -> Path:
    """``GATEWAY_CONFIG`` if set, else the default configuration shipped with the package."""
    value = os.environ.get("GATEWAY_CONFIG")
    return Path(value) if value else _directory(CONFIG_PACKAGE)
