"""SIGHUP re-reads the configuration of a running ``gateway serve``, as ``gateway admin reload``
does: checked files are swapped in, broken ones are refused with their errors logged."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.packaged import default_config_dir

GATEWAY = Path(sys.executable).parent / "gateway"


def _routes(url: str, token: str) -> set[str]:
    request = urllib.request.Request(
        f"{url}/admin/v1/routes", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body: dict[str, Any] = json.loads(response.read())
    return {route["name"] for route in body["routes"]}


def _until(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_sighup_reloads_and_refuses_broken_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    shutil.copytree(default_config_dir(), config)
    log = tmp_path / "gateway.log"
    env = {**os.environ, "GATEWAY_ADMIN_TOKEN": "reload-test-token"}
    with log.open("w") as errors:
        process = subprocess.Popen(
            [str(GATEWAY), "serve", "--config", str(config), "--data-dir", str(tmp_path / "d"),
             "--port", "0"],
            stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        token = "reload-test-token"
        assert "witness-to-recognition" in _routes(url, token)
        routes = config / "routes.toml"
        good = routes.read_text()
        routes.write_text(good.replace('"witness-to-recognition"', '"witness-renamed"'))
        process.send_signal(signal.SIGHUP)
        _until(lambda: "witness-renamed" in _routes(url, token))
        routes.write_text(good.replace('to = ["330784.hrss.recognition"]', 'to = ["330784.x"]'))
        process.send_signal(signal.SIGHUP)
        _until(lambda: "config.reload_refused" in log.read_text())
        assert "witness-renamed" in _routes(url, token)  # the old configuration stays
        refused = [json.loads(line) for line in log.read_text().splitlines() if "refused" in line]
        assert "330784.x" in refused[-1]["errors"][0]
        # gateway admin reload: the same check through the API, the errors printed
        status = main(["admin", "--url", url, "--token", token, "reload"])
        err = capsys.readouterr().err
        assert status == 1 and err.startswith("error: 422 Configuration refused")
        assert "routes.toml" in err and "330784.x" in err
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
