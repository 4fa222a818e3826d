"""The link to the gateway, from a department's side: ``GatewayClient`` (sign, submit, pull
with short-lived tokens) and ``Receiver`` (verify what the gateway pushes).

The rule between the two shared packages: ``adapters.link`` speaks the gateway's interface
(DESIGN sections 3, 6 and 7) and knows nothing of any department's formats, so a department
could use it alone from its own system; ``adapters.common`` is what the department families
share to turn their native records into canonical documents and back (adapter errors, local
validation, XML, rendering) and the command line that joins a family to this link."""

from adapters.link.client import GatewayClient, SubmitError
from adapters.link.receiver import Delivered, Receiver

__all__ = ["Delivered", "GatewayClient", "Receiver", "SubmitError"]
