"""Simulated department systems, each behind its real adapter.

These are fakes of the outside world (a hospital's HIS, the police's registry, a bank
regulator's account file) and nothing else: every document they send is a native export
(HL7 v2, police XML, CSV, canonical JSON) read by the family's own adapter, validated, signed
with the department's key and submitted over HTTP with the adapter's ``GatewayClient``;
everything they receive is pulled from the inbox over HTTP, verified (origin and gateway
signatures, the gateway's JWKS) and rendered into the family's native shape.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from adapters.common import send_parsed
from adapters.common.cli import Family
from adapters.common.records import Outgoing, Parsed
from adapters.link import GatewayClient
from gateway.clock import Clock
from gateway.messages import CloudEvent, verify_all
from gateway.trust import KeyRegistry

#: which adapter family fronts each department's system
FAMILIES = {
    "330784.zlb": "zlb",
    "330784.zlb.enterprise": "zlb",  # the portal's legal-person service: the employer
    "330784.police.household": "police",
    "330784.police.traffic": "police",
    "330784.police.station": "police",
    "330784.health.h001": "health",
    "330784.medinsurance": "medical_insurance",
    "330784.market": "market",
    "330700.nfra": "insurance_regulator",
    "330784.hrss.recognition": "hrss",
    "330784.hrss.benefits": "hrss",
    "330700.hrss.assessment": "hrss",
}


class DemoError(Exception):
    """Something in the simulated world did not go as the story says."""


@dataclass(frozen=True, slots=True)
class Native:
    """A native export file: what the department's system writes for its adapter."""

    name: str
    content: bytes


@dataclass(slots=True)
class DepartmentSystem:
    department: str
    family: Family
    client: GatewayClient
    folder: Path
    clock: Clock
    received: list[CloudEvent] = field(default_factory=list)
    _keys: KeyRegistry | None = None

    @classmethod
    def for_department(
        cls, department: str, client: GatewayClient, folder: Path, clock: Clock
    ) -> DepartmentSystem:
        module = importlib.import_module(f"adapters.{FAMILIES[department]}")
        family: Family = module.FAMILY
        (folder / "outbox").mkdir(parents=True, exist_ok=True)
        (folder / "inbox").mkdir(parents=True, exist_ok=True)
        return cls(department, family, client, folder, clock)

    async def send(self, native: Native, doc_type: str, case_id: str | None) -> str:
        """Export ``native``, let the adapter read it, and send the record of ``doc_type``
        (under ``case_id`` when answering a case). Returns the event id."""
        path = self.folder / "outbox" / native.name
        path.write_bytes(native.content)
        parsed = self.family.parse_file(path)
        if parsed.errors:
            raise DemoError(f"{self.department}: the adapter refused {native.name}")
        record = _choose(parsed.records, doc_type, case_id)
        report = await send_parsed(self.client, Parsed(records=[record]), case_id=case_id)
        if not report.ok:
            raise DemoError(f"{self.department}: {'; '.join(report.refused)}")
        return (report.sent or report.already)[0]

    async def pull(self) -> list[CloudEvent]:
        """New messages from the inbox, verified, filed as native files, acknowledged."""
        page = await self.client.inbox()
        events = []
        for item in page["messages"]:
            body = orjson.dumps(item["message"])
            verified = verify_all(
                body, await self._registry(), self.clock.now(), gateway_id=self.client.gateway_id
            )
            if self.department not in verified.recipients:
                raise DemoError(f"{self.department} was handed a message not addressed to it")
            ext, native = self.family.to_native(verified.event)
            (self.folder / "inbox" / f"{item['sequence']:08d}.{ext}").write_bytes(native)
            events.append(verified.event)
        if page["messages"]:
            await self.client.ack([m["sequence"] for m in page["messages"]])
        self.received.extend(events)
        return events

    async def _registry(self) -> KeyRegistry:
        if self._keys is None:
            self._keys = KeyRegistry.from_jwks(await self.client.jwks())
        return self._keys


def _choose(records: list[Outgoing], doc_type: str, case_id: str | None) -> Outgoing:
    """The record of ``doc_type`` for this case: one naming the case, else one naming none."""
    of_type = [r for r in records if r.type == doc_type]
    for wanted in (case_id, None):
        for record in of_type:
            if record.subject == wanted:
                return record
    if not of_type:
        raise DemoError(f"the export holds no {doc_type}")
    return of_type[0]
