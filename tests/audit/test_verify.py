"""Changing one byte of any stored audit entry makes `gateway audit verify` fail there."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from pathlib import Path

import orjson
import pytest

from gateway.audit.chain import GENESIS, link
from gateway.audit.verify import verify_rows
from gateway.cli import main
from gateway.testing import running_gateway
from tests.exchange.conftest import DIAGNOSIS, example


async def _gateway_with_history(data_dir: Path, database: str | None = None) -> int:
    async with running_gateway(data_dir, database=database) as gw:
        client = gw.client("330784.health.h001")
        for index in range(4):
            await client.submit(DIAGNOSIS, example("medical_diagnosis"), event_id=f"a-{index}")
        rows = await gw.store.audit_rows(0, 1000)
    return len(rows)


def _store_args(data_dir: Path, database: str | None) -> list[str]:
    """The CLI's arguments naming the store the gateway ran on."""
    return ["--data-dir", str(data_dir), *(["--database", database] if database else [])]


# The tests that change stored entries (_tamper and friends) are SQLite-only: they edit the
# SQLite file directly. The rest run on both stores.
def _tamper(data_dir: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(data_dir / "gateway.sqlite3") as db:
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        db.execute(sql, params)


def test_intact_chain_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database: str | None
) -> None:
    count = asyncio.run(_gateway_with_history(tmp_path, database))
    assert main(["audit", "verify", *_store_args(tmp_path, database)]) == 0
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
            out = capsys.readouterr().out
            assert f"BROKEN at entry {seq}:" in out
            assert ("bytes changed" if seq < count else "bytes or hash changed") in out
        _tamper(tmp_path, "UPDATE audit_log SET entry = ? WHERE seq = ?", bytes(entry), seq)
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 0


def test_changed_hash_and_deleted_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_gateway_with_history(tmp_path))
    _tamper(tmp_path, "UPDATE audit_log SET hash = ? WHERE seq = 2", "0" * 64)
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
    assert "BROKEN at entry 2: hash changed" in capsys.readouterr().out
    _tamper(tmp_path, "DELETE FROM audit_log WHERE seq = 2")
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
    assert "BROKEN at entry 2: missing entry" in capsys.readouterr().out


def test_changed_prev_link_is_a_broken_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_gateway_with_history(tmp_path))
    _tamper(tmp_path, "UPDATE audit_log SET prev_hash = ? WHERE seq = 3", "f" * 64)
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
    assert "BROKEN at entry 3: broken link" in capsys.readouterr().out


def test_renumbered_rows_are_found() -> None:
    first = b'{"seq":1}'
    second = b'{"seq":2}'
    h1 = link(GENESIS, first)
    h2 = link(h1, second)
    assert verify_rows([(1, first, GENESIS, h1), (2, second, h1, h2)]).intact
    verdict = verify_rows([(1, second, GENESIS, link(GENESIS, second))])
    assert (verdict.broken_seq, verdict.reason) == (1, "broken link")


def test_entries_cut_from_the_end_are_caught_by_a_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    count = asyncio.run(_gateway_with_history(tmp_path))
    args = ["--data-dir", str(tmp_path)]
    assert main(["audit", "checkpoint", *args]) == 0
    _tamper(tmp_path, "DELETE FROM audit_log WHERE seq = ?", count)
    assert main(["audit", "verify", *args]) == 1
    assert f"entry {count} is signed in a checkpoint but missing" in capsys.readouterr().out


def test_export_writes_every_entry(tmp_path: Path, database: str | None) -> None:
    count = asyncio.run(_gateway_with_history(tmp_path, database))
    out = tmp_path / "audit.jsonl"
    assert main(["audit", "export", *_store_args(tmp_path, database), "--out", str(out)]) == 0
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    entries = [line for line in lines if line["kind"] == "entry"]
    assert [line["seq"] for line in entries] == list(range(1, count + 1))
    assert entries[0]["entry"]["action"] == "message.accepted"
    prev = GENESIS
    for line in entries:  # an auditor can recompute the chain from the export alone
        assert line["prev_hash"] == prev
        prev = link(prev, base64.b64decode(line["entry_bytes"]))
        assert prev == line["hash"]
    assert lines[-1]["kind"] == "gateway_key" and "d" not in lines[-1]["jwk"]


def test_export_since_with_checkpoints_and_key(tmp_path: Path, database: str | None) -> None:
    count = asyncio.run(_gateway_with_history(tmp_path, database))
    args = _store_args(tmp_path, database)
    assert main(["audit", "checkpoint", *args]) == 0
    out = tmp_path / "audit.jsonl"
    assert main(["audit", "export", *args, "--since", "2", "--out", str(out)]) == 0
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [line["kind"] for line in lines] == [
        *["entry"] * (count - 2),
        "checkpoint",
        "gateway_key",
    ]
    assert lines[0]["seq"] == 3
    assert lines[-2]["seq"] == count and lines[-2]["hash"] == lines[-3]["hash"]


def test_verify_never_makes_a_gateway_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database: str | None
) -> None:
    asyncio.run(_gateway_with_history(tmp_path, database))
    args = _store_args(tmp_path, database)
    assert main(["audit", "checkpoint", *args]) == 0
    key_file = tmp_path / "dev-keys" / "gateway.jwk"
    key_file.unlink()
    assert main(["audit", "verify", *args]) == 2
    assert "no gateway key" in capsys.readouterr().err
    assert not key_file.exists()


def test_unreadable_checkpoint_line_is_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database: str | None
) -> None:
    asyncio.run(_gateway_with_history(tmp_path, database))
    (tmp_path / "audit-checkpoints.jsonl").write_bytes(b'{"seq": 1}\n')
    assert main(["audit", "verify", *_store_args(tmp_path, database)]) == 1
    assert "line 1 is not a checkpoint" in capsys.readouterr().out


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
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database: str | None
) -> None:
    asyncio.run(_gateway_with_history(tmp_path, database))
    args = _store_args(tmp_path, database)
    assert main(["audit", "checkpoint", *args]) == 0
    path = tmp_path / "audit-checkpoints.jsonl"
    point = orjson.loads(path.read_bytes())
    header, payload, signature = point["token"].split(".")
    point["token"] = ".".join([header, payload, signature[::-1]])
    path.write_bytes(orjson.dumps(point) + b"\n")
    assert main(["audit", "verify", *args]) == 1
    assert "not signed by the gateway" in capsys.readouterr().out
