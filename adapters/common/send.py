"""The send loop: every good record is signed and submitted with its deterministic id; a
record the gateway already accepted (same id) is reported as already sent, not sent again.
Each record's outcome is handed to ``on_outcome`` as it happens (the CLI prints it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.common.records import Outgoing, Parsed, event_id_for
from adapters.link import GatewayClient, SubmitError

SENT, ALREADY, REFUSED = "sent", "already sent", "refused"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one record: sent (event id), already sent (event id) or refused (why:
    file, place, field and rule, never a value)."""

    status: str
    file: str
    place: str
    event_id: str | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.status == REFUSED:
            return f"refused: {self.reason}"
        return f"{self.status}: {self.file}: {self.place} -> {self.event_id}"


@dataclass(slots=True)
class SendReport:
    sent: list[str] = field(default_factory=list)  # event ids accepted now
    already: list[str] = field(default_factory=list)  # event ids accepted before
    refused: list[str] = field(default_factory=list)  # messages (file, place, field, why)

    @property
    def ok(self) -> bool:
        return not self.refused

    def add(self, outcome: Outcome) -> None:
        if outcome.status == SENT:
            self.sent.append(str(outcome.event_id))
        elif outcome.status == ALREADY:
            self.already.append(str(outcome.event_id))
        else:
            self.refused.append(str(outcome.reason))


async def _submit(client: GatewayClient, record: Outgoing, case_id: str | None) -> Outcome:
    # an answer to a case's request is its own message: the same record sent for two cases
    # (an ID record, a licence) must not be taken for a repeat of the first
    key = record.key if case_id is None else f"{record.key}\n{case_id}"
    event_id = event_id_for(client.department, record.type, key)
    try:
        receipt = await client.submit(
            record.type, record.data, event_id=event_id, subject=case_id or record.subject
        )
    except SubmitError as exc:
        if exc.status == 409 and str(exc.problem.get("type", "")).endswith("id-reused"):
            return Outcome(ALREADY, record.file, record.place, event_id)
        reason = (
            f"{record.file}: {record.place}: refused by the gateway: "
            f"{exc.status} {exc.problem.get('type')}: {exc.problem.get('detail')}"
        )
        return Outcome(REFUSED, record.file, record.place, event_id, reason)
    status = SENT if receipt.get("id") == event_id else ALREADY
    return Outcome(status, record.file, record.place, event_id)


async def send_parsed(
    client: GatewayClient,
    parsed: Parsed,
    *,
    case_id: str | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> SendReport:
    """Send every good record. ``case_id`` answers a material request: the records go under
    that case (the event's subject) even when the document itself does not name it, as a
    resident ID record or a business licence never does."""
    report = SendReport()
    for error in parsed.errors:
        for problem in error.problems:
            outcome = Outcome(REFUSED, problem.file, problem.place, reason=str(problem))
            report.add(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    for record in parsed.records:
        outcome = await _submit(client, record, case_id)
        report.add(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return report
