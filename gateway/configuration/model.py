"""The configuration's shape. Frozen: a change is a new ``Config``, swapped in whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from gateway.trust.digests import DigestName

DeliveryMode = Literal["push", "pull"]


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    mode: DeliveryMode = "pull"
    endpoint: str | None = None
    timeout_seconds: float = 10.0
    concurrency: int = 4


@dataclass(frozen=True, slots=True)
class KeyConfig:
    name: str
    jwk: dict[str, Any]
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: str
    name_zh: str = ""
    sends: frozenset[str] = frozenset()
    receives: frozenset[str] = frozenset()
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    keys: tuple[KeyConfig, ...] = ()
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Condition:
    """``pointer`` (RFC 6901, into the event: ``/type``, ``/data/injury/accident_kind``) must
    hold one of ``values``."""

    pointer: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    type: str
    to: tuple[str, ...] = ()
    # Recipients named by the message itself (e.g. a material request's ``requested_from``);
    # still filtered by what each may receive.
    to_pointer: str | None = None
    when: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off with full jitter, then a dead letter once ``max_age`` has passed."""

    initial: timedelta = timedelta(seconds=5)
    multiplier: float = 2.0
    cap: timedelta = timedelta(hours=6)
    max_age: timedelta = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int = 5
    cooldown: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    id: str
    key_file: Path | None = None
    dev_keys: bool = False
    clock_skew: timedelta = timedelta(minutes=5)
    max_message_bytes: int = 1_048_576
    retention: timedelta = timedelta(days=90)
    token_lifetime: timedelta = timedelta(minutes=5)


#: CloudEvents extensions a deployment accepts unless ``[events] extensions`` says otherwise:
#: the distributed-tracing extension (CloudEvents 1.0, extensions/distributed-tracing.md).
DEFAULT_EXTENSIONS = frozenset({"traceparent", "tracestate"})


@dataclass(frozen=True, slots=True)
class EventSettings:
    """``[events]`` in gateway.toml: what the CloudEvents envelope may carry besides its core
    attributes (CloudEvents 1.0 section 3.1 "Context Attributes", "Extension Context
    Attributes").

    The specification says names SHOULD NOT exceed 20 characters (not MUST NOT), so the
    bound on names is this deployment's, not 20. ``extensions`` is the allow-list of
    extension names; ``None`` (only for reading back stored messages) allows any name.
    """

    max_name_length: int = 64  # characters in an attribute name
    max_extensions: int = 8  # extension attributes in one event
    max_extension_bytes: int = 4096  # UTF-8 bytes of all extension names and values together
    extensions: frozenset[str] | None = DEFAULT_EXTENSIONS


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """``[http]`` in gateway.toml: what one connection may cost (seconds, counts, bytes)."""

    head_timeout: float = 10.0  # request line and headers, from their first byte
    body_timeout: float = 30.0  # the whole body, from the moment the gateway reads it
    idle_timeout: float = 30.0  # a keep-alive connection with no request
    connections_per_peer: int = 256  # open connections from one IP address
    max_line_size: int = 8190  # request line (URL) and each header line, bytes
    max_headers: int = 100
    streams_per_department: int = 4  # concurrent SSE streams of one department
    write_timeout: float = 30.0  # one write to a stream (a client that stops reading)
    page_bytes: int = 1_048_576  # messages in one inbox or stream page, bytes


@dataclass(frozen=True, slots=True)
class CaseSettings:
    """``[cases]`` in gateway.toml: the case layer's definition and its signing key."""

    definition: Path | None = None  # None: no case layer
    key_file: Path | None = None  # the case service's key; a dev key with dev_keys
    check_interval: timedelta = timedelta(minutes=1)  # how often deadlines are looked at


AtRest = Literal["none", "sm4-gcm"]


@dataclass(frozen=True, slots=True)
class CryptoSettings:
    """``[crypto]`` in gateway.toml: the deployment's choice of digest (the audit chain and
    the payload digest in receipts) and of encryption at rest (docs/miping.md)."""

    digest: DigestName = "sha256"
    at_rest: AtRest = "none"
    #: the at-rest key ring (``gateway.encryption.keyring``); a dev ring in the data
    #: directory when None and dev_keys is on
    key_file: Path | None = None
    #: refuse a plaintext record (once re-sealing has sealed them all); else read it as
    #: written before encryption was turned on
    refuse_plaintext: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    gateway: GatewaySettings
    departments: dict[str, Department]
    routes: tuple[Route, ...]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    directory: Path | None = None
    cases: CaseSettings = field(default_factory=CaseSettings)
    crypto: CryptoSettings = field(default_factory=CryptoSettings)
    events: EventSettings = field(default_factory=EventSettings)
    http: TransportLimits = field(default_factory=TransportLimits)

    def department(self, dept_id: str) -> Department | None:
        return self.departments.get(dept_id)
