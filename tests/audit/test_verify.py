"""Changing one byte of any stored audit entry makes `gateway audit verify` fail there."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest

from gateway.audit.chain import GENESIS, link
from gateway.audit.verify import verify_rows
from gateway.cli import main
from gateway.testing import running_gateway
from tests.exchange.conftest import DIAGNOSIS, example


async def _gateway_with_history(data_dir: Path) -> int:
    async with running_gateway(data_dir) as gw:
        client = gw.client("330784.health.h001")
        for index in range(4):
            await client.submit(DIAGNOSIS, example("medical_diagnosis"), event_id=f"a-{index}")
        rows = await gw.runtime.store.audit_rows(0, 1000)  # type: ignore[attr-defined]
    return len(rows)


def _tamper(data_dir: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(data_dir / "gateway.sqlite3") as db:
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        db.execute(sql, params)


def test_intact_chain_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    count = asyncio.run(_gateway_with_history(tmp_path))
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 0
    assert f"intact: {count} entries" in capsys.readouterr().out


def test_one_changed_byte_in_any_entry_is_found_at_that_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    count = asyncio.run(_gateway_with_history(tmp_path))
    with sqlite3.connect(tmp_path / "gateway.sqlite3") as db:
        originals = dict(db.execute("SELECT seq, entry FROM audit_log"))
    for seq in range(1, count + 1):
        entry = bytearray(originals[seq])
        for position in (0, len(entry) // 2, len(entry) - 1):
            changed = bytearray(entry)
            changed[position] ^= 0x01
            _tamper(tmp_path, "UPDATE audit_log SET entry = ? WHERE seq = ?", bytes(changed), seq)
            assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
            assert f"BROKEN at entry {seq}:" in capsys.readouterr().out
        _tamper(tmp_path, "UPDATE audit_log SET entry = ? WHERE seq = ?", bytes(entry), seq)
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 0


def test_changed_hash_and_deleted_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_gateway_with_history(tmp_path))
    _tamper(tmp_path, "UPDATE audit_log SET hash = ? WHERE seq = 2", "0" * 64)
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
    assert "BROKEN at entry 2:" in capsys.readouterr().out
    _tamper(tmp_path, "DELETE FROM audit_log WHERE seq = 2")
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
    assert "entry 2 is missing" in capsys.readouterr().out


def test_export_writes_every_entry(tmp_path: Path) -> None:
    count = asyncio.run(_gateway_with_history(tmp_path))
    out = tmp_path / "audit.jsonl"
    assert main(["audit", "export", "--data-dir", str(tmp_path), "--out", str(out)]) == 0
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, count + 1))
    assert lines[0]["entry"]["action"] == "message.accepted"


def test_verify_rows_reports_a_broken_link() -> None:
    assert verify_rows([(1, b"x", "1" * 64, "2" * 64)]).broken_seq == 1


def test_no_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 2
    assert "no gateway store" in capsys.readouterr().err


def test_signed_checkpoints_catch_a_rewritten_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_gateway_with_history(tmp_path))
    args = ["--data-dir", str(tmp_path)]
    assert main(["audit", "checkpoint", *args]) == 0
    assert main(["audit", "verify", *args]) == 0
    assert "1 signed checkpoints" in capsys.readouterr().out
    # rewrite history consistently: change entry 1 and recompute every hash after it
    with sqlite3.connect(tmp_path / "gateway.sqlite3") as db:
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        rows = list(db.execute("SELECT seq, entry FROM audit_log ORDER BY seq"))
        prev = GENESIS
        for seq, entry in rows:
            if seq == 1:
                entry = entry.replace(b"message.accepted", b"message.accepteX")
            digest = link(prev, entry)
            db.execute(
                "UPDATE audit_log SET entry=?, prev_hash=?, hash=? WHERE seq=?",
                (entry, prev, digest, seq),
            )
            prev = digest
    assert main(["audit", "verify", *args]) == 1
    assert "differs from the signed checkpoint" in capsys.readouterr().out


def test_forged_checkpoint_signature_is_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_gateway_with_history(tmp_path))
    assert main(["audit", "checkpoint", "--data-dir", str(tmp_path)]) == 0
    path = tmp_path / "audit-checkpoints.jsonl"
    point = orjson.loads(path.read_bytes())
    header, payload, signature = point["token"].split(".")
    point["token"] = ".".join([header, payload, signature[::-1]])
    path.write_bytes(orjson.dumps(point) + b"\n")
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
    assert "not signed by the gateway" in capsys.readouterr().out
