"""The send loop: every good record is signed and submitted with its deterministic id; a
record the gateway already accepted (same id) is reported as already sent, not sent again.
Each record's outcome is handed to ``on_outcome`` as it happens (the CLI prints it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.common.beside import files_beside
from adapters.common.records import Outgoing, Parsed, event_id_for
from adapters.link import GatewayClient, SubmitError
from adapters.link.files import upload

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


async def _submit(
    client: GatewayClient, record: Outgoing, case_id: str | None, refs: list[dict[str, Any]]
) -> Outcome:
    # an answer to a case's request is its own message: the same record sent for two cases
    # (an ID record, a licence) must not be taken for a repeat of the first
    key = record.key if case_id is None else f"{record.key}\n{case_id}"
    event_id = event_id_for(client.department, record.type, key)
    data = {**record.data, "attachments": refs} if refs else record.data
    try:
        receipt = await client.submit(
            record.type, data, event_id=event_id, subject=case_id or record.subject
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
    attachments: list[dict[str, Any]] | None = None,
) -> SendReport:
    """Send every good record. ``case_id`` answers a material request: the records go under
    that case (the event's subject) even when the document itself does not name it, as a
    resident ID record or a business licence never does. ``attachments``: references of
    files already uploaded (``adapters.link.files.upload``), listed in every record, before
    those of the files exported beside it (``adapters.common.beside``); a record whose file
    the gateway refuses is refused by name and the rest are sent."""
    report = SendReport()
    uploads = _Uploads(client, attachments or [])
    for error in parsed.errors:
        for problem in error.problems:
            outcome = Outcome(REFUSED, problem.file, problem.place, reason=str(problem))
            report.add(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    for record in parsed.records:
        refs = await uploads.for_record(record)
        outcome = (
            refs if isinstance(refs, Outcome) else await _submit(client, record, case_id, refs)
        )
        report.add(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return report


class _Uploads:
    """The files of each record; each file uploaded once per run, however many records it
    goes with."""

    def __init__(self, client: GatewayClient, given: list[dict[str, Any]]) -> None:
        self._client = client
        self._given = given
        self._done: dict[Path, dict[str, Any]] = {}

    async def for_record(self, record: Outgoing) -> list[dict[str, Any]] | Outcome:
        """The references of ``record``, or its refusal naming the file the gateway refused."""
        refs = list(self._given)
        for path in files_beside(record):
            if path not in self._done:
                try:
                    self._done[path] = await upload(self._client, path)
                except SubmitError as exc:
                    reason = (
                        f"{record.file}: {record.place}: the file {path.name} beside it was "
                        f"refused: {exc.status} {exc.problem.get('type')}: "
                        f"{exc.problem.get('detail')}"
                    )
                    return Outcome(REFUSED, record.file, record.place, reason=reason)
            refs.append(self._done[path])
        return refs
