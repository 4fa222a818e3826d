"""The HTTP interface (DESIGN section 6): an aiohttp app factory and its handlers."""

from gateway.api.app import create_app

__all__ = ["create_app"]
