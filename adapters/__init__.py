"""Edge connectors per department family. ``adapters.base`` is what every adapter stands on:
a client that signs and submits, and a receiver that verifies what the gateway pushes."""
