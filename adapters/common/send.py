"""The send loop: every good record is signed and submitted with its deterministic id; a
record the gateway already accepted (same id) is reported as already sent, not sent again."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.base import GatewayClient, SubmitError
from adapters.common.records import Parsed, event_id_for


@dataclass(slots=True)
class SendReport:
    sent: list[str] = field(default_factory=list)  # event ids accepted now
    already: list[str] = field(default_factory=list)  # event ids accepted before
    refused: list[str] = field(default_factory=list)  # messages (file, place, field, why)

    @property
    def ok(self) -> bool:
        return not self.refused


async def send_parsed(client: GatewayClient, parsed: Parsed) -> SendReport:
    report = SendReport()
    for error in parsed.errors:
        report.refused.extend(str(p) for p in error.problems)
    for record in parsed.records:
        event_id = event_id_for(client.department, record.type, record.key)
        try:
            receipt = await client.submit(
                record.type, record.data, event_id=event_id, subject=record.subject
            )
        except SubmitError as exc:
            if exc.status == 409 and str(exc.problem.get("type", "")).endswith("id-reused"):
                report.already.append(event_id)
                continue
            report.refused.append(
                f"{record.file}: {record.place}: refused by the gateway: "
                f"{exc.status} {exc.problem.get('type')}: {exc.problem.get('detail')}"
            )
            continue
        (report.sent if receipt.get("id") == event_id else report.already).append(event_id)
    return report
