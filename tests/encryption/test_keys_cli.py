"""``gateway keys at-rest``: generate, rotate and retire the SM4 key ring."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.clock import SystemClock
from gateway.encryption import FileKeyRing
from gateway.storage.factory import open_store


def test_generate_rotate_retire(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ring = tmp_path / "at-rest.keys"
    assert main(["keys", "at-rest", "generate", str(ring), "--id", "2026a"]) == 0
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    first = FileKeyRing(ring).get("2026a")
    assert main(["keys", "at-rest", "generate", str(ring), "--id", "x"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["keys", "at-rest", "rotate", str(ring), "--id", "2026b"]) == 0
    assert "active key 2026b; keys 2026a, 2026b" in capsys.readouterr().out
    assert FileKeyRing(ring).get("2026a") == first
    assert main(["keys", "at-rest", "retire", str(ring), "--id", "2026b"]) == 2
    assert "rotate first" in capsys.readouterr().err
    retire = ["keys", "at-rest", "retire", str(ring), "--id", "2026a"]
    assert main([*retire, "--data-dir", str(tmp_path / "none")]) == 2
    assert "no gateway store here" in capsys.readouterr().err
    assert FileKeyRing(ring).ids() == ["2026a", "2026b"]
    asyncio.run(_empty_store(tmp_path / "gateway.sqlite3"))
    assert main([*retire, "--data-dir", str(tmp_path)]) == 0
    assert FileKeyRing(ring).ids() == ["2026b"]


async def _empty_store(path: Path) -> None:
    store = open_store(path, SystemClock())
    await store.open()
    await store.close()
