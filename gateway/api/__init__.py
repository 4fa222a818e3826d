"""The HTTP interface (DESIGN section 6): an aiohttp app factory and its handlers."""

from gateway.api.app import RUNTIME, create_app

__all__ = ["RUNTIME", "create_app"]
