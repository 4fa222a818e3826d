"""What a commit asks the gateway instances to wake, and its encoding as a NOTIFY payload.

On PostgreSQL the accepting transaction sends one ``NOTIFY`` that every instance hears once
it has committed. The payload names what became due, so an instance wakes its dispatcher
only for push deliveries and only the live streams (SSE) of the pull recipients, rather than
every stream on every message. PostgreSQL refuses payloads of 8000 bytes or more; a message
for so many pull recipients that their names would not fit in ``MAX_PAYLOAD`` bytes sends
"every stream" instead, which costs a few empty inbox reads and never loses a wake-up.

The payload also names the instance that committed (``origin``): that instance woke its own
dispatcher and streams in process already, so it ignores its own notification instead of
waking every stream a second time for each message.

The payload is a hint only: anything it cannot parse (an older instance's empty payload in
a rolling upgrade, say) wakes everything, and the dispatcher and streams still poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import orjson

#: Largest payload sent; far below PostgreSQL's 8000-byte limit so a NOTIFY never fails.
MAX_PAYLOAD: Final = 2000


@dataclass(frozen=True, slots=True)
class Wakeup:
    """``push``: wake the dispatcher. ``pull``: the recipients whose streams to wake, or
    ``None`` for every stream (too many to name, or notifications may have been lost)."""

    push: bool
    pull: tuple[str, ...] | None
    # the committing instance (its store), which has woken itself; not part of equality
    origin: str | None = field(default=None, compare=False)

    @classmethod
    def for_recipients(cls, recipients: Sequence[tuple[str, str]]) -> Wakeup:
        """From ``(department, mode)`` pairs, as an acceptance routes them."""
        push = any(mode == "push" for _, mode in recipients)
        return cls(push, tuple(dept for dept, mode in recipients if mode == "pull"))

    @property
    def empty(self) -> bool:
        """Nothing to wake: no NOTIFY needed."""
        return not self.push and self.pull == ()


#: Wake the dispatcher and every stream.
EVERYTHING: Final = Wakeup(True, None)


def encode(wakeup: Wakeup) -> str:
    """The NOTIFY payload: ``{"push": bool, "pull": [...] | null}``, at most ``MAX_PAYLOAD``
    bytes (an over-long recipient list becomes ``null``, "every stream")."""
    doc: dict[str, object] = {"push": wakeup.push, "pull": wakeup.pull}
    if wakeup.origin is not None:
        doc["from"] = wakeup.origin
    text = orjson.dumps(doc).decode()
    if len(text.encode()) <= MAX_PAYLOAD:
        return text
    return orjson.dumps({**doc, "pull": None}).decode()


def decode(payload: str) -> Wakeup:
    """The wake-up a payload asks for; ``EVERYTHING`` for anything malformed."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return EVERYTHING
    if not isinstance(doc, dict) or not isinstance(doc.get("push"), bool):
        return EVERYTHING
    origin = doc.get("from") if isinstance(doc.get("from"), str) else None
    pull = doc.get("pull")
    if pull is None:
        return Wakeup(doc["push"], None, origin)
    if not isinstance(pull, list) or not all(isinstance(r, str) for r in pull):
        return EVERYTHING
    return Wakeup(doc["push"], tuple(pull), origin)
