"""``send`` says what it did: each record's outcome as it happens, progress on long batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.common.cli import PROGRESS_ABOVE, PROGRESS_EVERY, OutcomePrinter, received_file_name
from adapters.common.cli import _write as cli_write
from adapters.common.send import ALREADY, REFUSED, SENT, Outcome


def test_each_outcome_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    printer = OutcomePrinter("health", 3)
    printer(Outcome(SENT, "a.hl7", "message M1", "id-1"))
    printer(Outcome(ALREADY, "b.xml", "line 3, element /ClinicalDocument", "id-2"))
    printer(Outcome(REFUSED, "c.hl7", "line 4", reason="c.hl7: line 4: field PV1-44: not a time"))
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "sent: a.hl7: message M1 -> id-1",
        "already sent: b.xml: line 3, element /ClinicalDocument -> id-2",
    ]
    assert err.splitlines() == ["refused: c.hl7: line 4: field PV1-44: not a time"]


def test_long_batches_report_progress(capsys: pytest.CaptureFixture[str]) -> None:
    total = PROGRESS_ABOVE + 50
    printer = OutcomePrinter("insurance_regulator", total)
    for i in range(total):
        printer(Outcome(SENT, "batch.csv", f"row {i + 2}", f"id-{i}"))
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == total
    expected = [
        f"insurance_regulator: {n}/{total} records"
        for n in range(PROGRESS_EVERY, total, PROGRESS_EVERY)
    ]
    assert err.splitlines() == [*expected, f"insurance_regulator: {total}/{total} records"]


def test_short_batches_print_no_progress(capsys: pytest.CaptureFixture[str]) -> None:
    printer = OutcomePrinter("police", PROGRESS_ABOVE)
    for i in range(PROGRESS_ABOVE):
        printer(Outcome(SENT, "x.xml", "line 1", f"id-{i}"))
    assert capsys.readouterr().err == ""


# --- review: a received message's file name ---------------------------------------------------


@pytest.mark.parametrize("event_id", ["../../escaped", "YK1Y/2026/001", "a\\b:c", "..", "x" * 200])
def test_a_received_message_is_written_inside_the_output_directory(
    tmp_path: Path, event_id: str
) -> None:
    # CloudEvents ids are any printable text: a "/" made every delivery to `serve --out` fail
    # (and be retried until dead), a "../" would have written outside the directory
    out = tmp_path / "inbox"
    out.mkdir()
    name = received_file_name(7, event_id, "json")
    cli_write(out, name, b"{}")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.parent for p in written] == [out]
    assert written[0].name.startswith("00000007-") and written[0].name.endswith(".json")
    assert received_file_name(8, event_id, "json") != name
