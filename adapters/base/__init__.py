"""The adapter base: ``GatewayClient`` (sign, submit, pull) and ``Receiver`` (verify pushes)."""

from adapters.base.client import GatewayClient, SubmitError
from adapters.base.receiver import Delivered, Receiver

__all__ = ["Delivered", "GatewayClient", "Receiver", "SubmitError"]
