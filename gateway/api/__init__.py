"""The HTTP interface (DESIGN section 6): an aiohttp app factory and its handlers."""

from gateway.api.app import create_app
from gateway.api.keys import RUNTIME

__all__ = ["RUNTIME", "create_app"]
