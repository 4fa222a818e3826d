"""The ``gateway`` command line. One module per command family; ``main`` dispatches."""

from gateway.cli.main import main

__all__ = ["main"]
