"""Routing: where a message goes is decided here, from configuration alone."""

from gateway.routing.router import Decision, Router, resolve_pointer

__all__ = ["Decision", "Router", "resolve_pointer"]
