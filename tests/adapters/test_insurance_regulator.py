"""Regulator batches (CSV, JSON) -> adapter -> real gateway -> the social insurance agency."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from adapters.common import AdapterError, send_parsed
from adapters.common.cli import parse_files
from adapters.insurance_regulator import FAMILY, parse_csv, parse_file
from gateway.assembly import dev_key_path
from gateway.testing import running_gateway
from tests.adapters.conftest import BENEFITS, REPO, example, pull_verified, sample

NFRA = "330700.nfra"


async def test_batches_reach_benefits_exactly(tmp_path: Path, database: str | None) -> None:
    files = [sample("insurance_regulator", n) for n in ("payee_accounts.csv", "claims.json")]
    parsed = parse_files(FAMILY, files)
    assert not parsed.errors
    async with running_gateway(tmp_path, database=database) as gw:
        report = await send_parsed(gw.client(NFRA), parsed)
        assert report.ok and len(report.sent) == 4
        events = await pull_verified(gw, BENEFITS)
    assert all(e.source == NFRA for e in events)
    assert [e.data for e in events] == [
        example("payee_bank_account", "chen_abc_debit"),
        example("payee_bank_account", "li_social_security_card"),
        example("commercial_insurance_claim", "employer_liability_settled"),
        example("commercial_insurance_claim", "personal_accident_reported"),
    ]
    assert events[0].subject == "GS-330784-2026-000731" and events[1].subject is None


def _bad_batch() -> str:
    lines = sample("insurance_regulator", "payee_accounts.csv").read_text("utf-8").splitlines()
    header, chen, li = lines
    bad_id = chen.replace("330784198603140511", "330784198603140512").replace("0031", "0032")
    bad_date = li.replace("19791102", "19791131").replace("0012", "0013")
    bad_kind = li.replace("social_security_card", "credit_card").replace("0012", "0014")
    return "\n".join([header, chen, bad_id, bad_date, li, bad_kind, chen]) + "\n"


def test_every_bad_row_is_reported_with_row_and_field() -> None:
    parsed = parse_csv(_bad_batch(), "batch.csv")
    assert [r.place for r in parsed.records] == ["row 2", "row 5", "row 7"]
    messages = [str(p) for e in parsed.errors for p in e.problems]
    assert any(m.startswith("batch.csv: row 3: field holder.id_number: ") for m in messages)
    assert "batch.csv: row 4: field holder.birth_date: not a date" in messages
    assert any(m.startswith("batch.csv: row 6: field account_kind: ") for m in messages)
    joined = "\n".join(messages)
    assert "330784198603140512" not in joined and "19791131" not in joined


async def test_partial_batch_sends_good_rows_and_resend_sends_nothing_twice(
    tmp_path: Path,
    database: str | None,
) -> None:
    batch = tmp_path / "batch.csv"
    batch.write_text(_bad_batch(), encoding="utf-8")
    parsed = parse_file(batch)
    # the repeated row 7 shares row 2's record key: refused, never a second message
    assert [r.place for r in parsed.records] == ["row 2", "row 5"]
    assert any(
        "row 7: field (record key): repeats the key of row 2" in str(e) for e in parsed.errors
    )
    assert len(parsed.errors) == 4
    async with running_gateway(tmp_path / "gw", database=database) as gw:
        client = gw.client(NFRA)
        first = await send_parsed(client, parsed)
        assert len(first.sent) == 2 and len(first.refused) == 4 and not first.ok
        again = await send_parsed(client, parse_file(batch))
        assert again.sent == [] and sorted(again.already) == sorted(first.sent)
        events = await pull_verified(gw, BENEFITS)
    assert [e.data["account_reference"] for e in events] == [
        "NFRA-330784-2026-0715-0031",
        "NFRA-330784-2026-0605-0012",
    ]


def test_json_batch_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "claims.json"
    text = sample("insurance_regulator", "claims.json").read_text("utf-8")
    path.write_text(text.replace('"paid_date": "20260902"', '"paid_date": "2026-13-02"'), "utf-8")
    parsed = parse_file(path)
    assert len(parsed.records) == 1 and parsed.records[0].place == "record 2"
    assert str(parsed.errors[0]) == f"{path}: record 1: field paid_date: not a date"
    path.write_text('{"kind": "x", "records": []}', "utf-8")
    assert "field kind: not one of" in str(parse_files(FAMILY, [path]).errors[0])


def test_unknown_column_refuses_the_file() -> None:
    with pytest.raises(AdapterError) as info:
        parse_csv("account_reference,salary\nA,1\n", "x.csv")
    assert str(info.value) == "x.csv: row 1: field salary: unknown column"


async def test_cli_reports_bad_rows_sends_good_ones_and_exits_1(
    tmp_path: Path, database: str | None
) -> None:
    batch = tmp_path / "batch.csv"
    batch.write_text(_bad_batch(), encoding="utf-8")
    async with running_gateway(tmp_path / "gw", database=database) as gw:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.insurance_regulator", "send", str(batch),
            "--gateway", gw.base_url, "--key", str(dev_key_path(gw.data_dir, NFRA)),
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        events = await pull_verified(gw, BENEFITS)
    assert proc.returncode == 1
    assert len(events) == 2
    # each record's outcome as it happens: file, place and the event id it became
    assert out.decode().splitlines() == [
        f"sent: {batch}: row {row} -> {event.id}" for row, event in zip((2, 5), events, strict=True)
    ]
    text = err.decode()
    assert f"refused: {batch}: row 3: field holder.id_number:" in text
    assert f"refused: {batch}: row 4: field holder.birth_date: not a date" in text
    assert "330784198603140512" not in text
