"""Packages, with the data folders of the source tree mapped into the ``gateway`` package.

``schemas/`` and ``config/`` stay top-level folders (DESIGN section 2) and ship inside the
wheel as ``gateway.schemas`` and ``gateway.default_config`` (found with importlib.resources,
gateway/packaged.py). pyproject.toml cannot combine package discovery with such a mapping,
so the package list is made here; everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

DATA_PACKAGES = {"gateway.schemas": "schemas", "gateway.default_config": "config"}

setup(
    packages=[*find_namespace_packages(include=["gateway*", "adapters*"]), *DATA_PACKAGES],
    package_dir=DATA_PACKAGES,
)
