"""The send loop: every good record is signed and submitted with its deterministic id; a
record the gateway already accepted (same id) is reported as already sent, not sent again."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.common.records import Parsed, event_id_for
from adapters.link import GatewayClient, SubmitError


@dataclass(slots=True)
class SendReport:
    sent: list[str] = field(default_factory=list)  # event ids accepted now
    already: list[str] = field(default_factory=list)  # event ids accepted before
    refused: list[str] = field(default_factory=list)  # messages (file, place, field, why)

    @property
    def ok(self) -> bool:
        return not self.refused


async def send_parsed(
    client: GatewayClient, parsed: Parsed, *, case_id: str | None = None
) -> SendReport:
    """Send every good record. ``case_id`` answers a material request: the records go under
    that case (the event's subject) even when the document itself does not name it, as a
    resident ID record or a business licence never does."""
    report = SendReport()
    for error in parsed.errors:
        report.refused.extend(str(p) for p in error.problems)
    for record in parsed.records:
        # an answer to a case's request is its own message: the same record sent for two
        # cases (an ID record, a licence) must not be taken for a repeat of the first
        key = record.key if case_id is None else f"{record.key}\n{case_id}"
        event_id = event_id_for(client.department, record.type, key)
        try:
            receipt = await client.submit(
                record.type, record.data, event_id=event_id, subject=case_id or record.subject
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
