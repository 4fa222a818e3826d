"""``send`` says what it did: each record's outcome as it happens, progress on long batches."""

from __future__ import annotations

import pytest

from adapters.common.cli import PROGRESS_ABOVE, PROGRESS_EVERY, OutcomePrinter
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
