"""The README's and the onboarding guide's examples run as written against a real gateway.

The shell blocks (```sh) are taken from the files, joined in order and run by bash with
``-euo pipefail`` in a scratch directory that looks like the repository root to them (its
``.venv``, ``schemas`` and ``config`` are the repository's; ``data`` is the running gateway's
data directory, as with ``make run``). The gateway is started the way ``make run`` starts it
(the Makefile's recipe is checked to be that command) and found by its "listening on" line.
The two commands of "Two commands" (``make run``, ``make test``) are not run from here: the
first is the gateway this test starts, the second is the suite this test is part of.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from gateway.messages import SignedMessage

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
LISTENING = re.compile(r"^zj-exchange gateway listening on (http://\S+)$")
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)#]+)(?:#[^)]*)?\)")


def sections(text: str) -> dict[str, str]:
    """Level-2 sections by title (the text before the first is under "")."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    found = {"": parts[0]}
    found.update(zip(parts[1::2], parts[2::2], strict=True))
    return found


def shell_blocks(text: str) -> list[str]:
    return [match.group(1) for match in BLOCK.finditer(text)]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``make run``'s command on a free port and a fresh data directory: (URL, data dir).
    One for the module: the README's walk and the guide's use different departments."""
    tmp_path = tmp_path_factory.mktemp("gateway")
    recipe = _make_recipe("run")
    assert recipe == ["$(BIN)/gateway serve"], recipe
    data = tmp_path / "data"
    env = {**os.environ, "GATEWAY_DATA_DIR": str(data), "GATEWAY_PORT": "0"}
    process = subprocess.Popen(
        [str(VENV / "bin" / "gateway"), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()  # EOF (the process died) ends it too
        match = LISTENING.match(first)
        assert match, f"no 'listening on' line at start: {first!r}"
        yield match.group(1), data
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def _make_recipe(target: str) -> list[str]:
    lines = (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def run_blocks(blocks: list[str], url: str, data: Path, workdir: Path, **extra_env: str) -> str:
    """Run the blocks as one bash script where a reader at the repository root would."""
    workdir.mkdir()
    for name, target in ((".venv", VENV), ("schemas", REPO / "schemas"), ("data", data)):
        (workdir / name).symlink_to(target)
    (workdir / "config").symlink_to(REPO / "config")
    (workdir / "adapters").symlink_to(REPO / "adapters")
    script = "\n".join(blocks)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_URL"] = url
    env.update(extra_env)
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"exit {result.returncode} after {time.monotonic() - started:.1f} s\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


def test_readme_links_stay_inside_the_repository() -> None:
    for document in (REPO / "README.md", REPO / "docs/onboarding.md"):
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(REPO), f"{document.name}: {target} leaves the repo"
            assert resolved.exists(), f"{document.name}: {target} does not exist"


def test_the_two_commands_are_make_targets() -> None:
    (block, *_) = shell_blocks(
        sections((REPO / "README.md").read_text(encoding="utf-8"))["Two commands"]
    )
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands == ["make run", "make test"]
    assert _make_recipe("test") == ["$(BIN)/python -m pytest"]


def test_readme_examples_run_as_written(gateway: tuple[str, Path], tmp_path: Path) -> None:
    url, data = gateway
    parts = sections((REPO / "README.md").read_text(encoding="utf-8"))
    blocks = shell_blocks(parts["Using it"]) + shell_blocks(parts["Administration"])
    assert len(blocks) >= 4
    work = tmp_path / "work"
    out = run_blocks(blocks, url, data, work)
    receipt = orjson.loads((work / "receipt.json").read_bytes())
    assert receipt["source"] == "330784.health.h001" and receipt["sequence"] >= 1
    assert set(receipt["recipients"]) >= {"330784.hrss.recognition"}
    assert f'"id":"{receipt["id"]}"' in out  # the status answer for the submitted message
    assert "created" in out and "night-operator" in out  # an operator token was created


def test_onboarding_in_chinese_has_the_same_commands() -> None:
    english = shell_blocks((REPO / "docs/onboarding.md").read_text(encoding="utf-8"))
    chinese = shell_blocks((REPO / "docs/onboarding.zh-CN.md").read_text(encoding="utf-8"))
    assert chinese == english and len(english) >= 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_onboarding_runs_as_written(gateway: tuple[str, Path], tmp_path: Path) -> None:
    """A new hospital: key, registration, route, first message and its status, a decision
    pulled and acknowledged, then one pushed to its receiving adapter."""
    url, data = gateway
    blocks = shell_blocks((REPO / "docs/onboarding.md").read_text(encoding="utf-8"))
    work = tmp_path / "work"
    out = run_blocks(blocks, url, data, work, ADAPTER_PORT=str(_free_port()))
    line = (work / "sent.txt").read_text(encoding="utf-8").splitlines()[0]
    origin, event_id = line.removeprefix("sent: ").split(" -> ")
    assert origin == "adapters/health/samples/diagnosis_certificate.json: document 1"
    assert f'"id":"{event_id}"' in out and '"source":"330784.health.h002"' in out
    assert '"acknowledged":1' in out.replace(" ", "")
    (pushed,) = (data / "inbound" / "330784.health.h002").glob("*.json")
    pulled = orjson.loads((work / "inbox.json").read_bytes())["messages"][0]["message"]
    assert SignedMessage.parse(orjson.dumps(pulled)).event.source == "330784.hrss.recognition"
    assert orjson.loads(pushed.read_bytes())  # the adapter wrote the pushed decision
