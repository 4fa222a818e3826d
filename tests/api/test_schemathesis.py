"""Schemathesis (``--checks all``) against a real ``gateway serve`` and the description it
serves, with both kinds of token: an admin bearer token on ``/admin/v1`` and a fresh
department token on the department API (``st_hooks.py``). It finds nothing.

Bounded to stay within the suite's time budget: a few examples per operation
(``MAX_EXAMPLES``), a fixed seed so a failure reproduces, and ``--max-time``. What a status
outside schemathesis's defaults is right for is written, with its reason, in
``schemathesis.toml``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BIN = Path(sys.executable).parent
MAX_EXAMPLES = 5
SEED = 20261130


def _st() -> str:
    found = shutil.which("st", path=str(BIN)) or shutil.which("st")
    if found is None:
        pytest.fail("schemathesis is missing: pip install -e '.[dev]'")
    return found


@pytest.fixture
def served(tmp_path: Path) -> tuple[str, Path]:
    """A gateway on a free port with a fresh data directory: (URL, data directory)."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    process = subprocess.Popen(
        [str(BIN / "gateway"), "serve", "--data-dir", str(data), "--port", "0"],
        stdout=subprocess.PIPE, stderr=(tmp_path / "gateway.log").open("w"), text=True,
        env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), url
        yield url, data
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    log = (tmp_path / "gateway.log").read_text()
    assert "http.unhandled" not in log, "the gateway answered a request with an internal error"


def test_schemathesis_finds_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    url, data = served
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCHEMATHESIS_HOOKS": "tests.api.st_hooks",
        "ZJX_ST_DATA_DIR": str(data),
    }
    result = subprocess.run(
        [_st(), "--config-file", str(HERE / "schemathesis.toml"), "--no-color", "run",
         f"{url}/openapi.json", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
         "--seed", str(SEED), "--workers", "2",
         "--generation-database", "none", "--request-timeout", "10"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert " passed" in result.stdout and "failures" not in result.stdout.split("SUMMARY")[-1]
