"""Typed application and request state keys."""

from __future__ import annotations

from aiohttp import web

from gateway.configuration.model import TransportLimits
from gateway.runtime import Runtime

RUNTIME = web.AppKey("runtime", Runtime)
#: the transport's bounds (``[http]``), fixed for the app's life
TRANSPORT = web.AppKey("transport", TransportLimits)
