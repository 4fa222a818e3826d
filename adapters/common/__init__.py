"""What every department adapter shares beyond ``adapters.link``: the adapter error (file,
place, field; never a value), local validation against the schemas, deterministic event ids,
the send loop (batches report every bad record and still send the good ones) and the
``send`` / ``serve`` command line."""

from adapters.common.errors import AdapterError, Problem
from adapters.common.records import (
    Outgoing,
    Parsed,
    event_id_for,
    registry,
    validate_local,
)
from adapters.common.send import SendReport, send_parsed

__all__ = [
    "AdapterError",
    "Outgoing",
    "Parsed",
    "Problem",
    "SendReport",
    "event_id_for",
    "registry",
    "send_parsed",
    "validate_local",
]
