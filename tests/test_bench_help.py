"""`python -m bench.acceptance --help` tells a reader what a run needs and its defaults,
without running anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_acceptance_help_names_its_needs_and_defaults() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.acceptance", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "Needs wrk and taskset" in text
    assert "(default: 1000000)" in text and "(default: 3)" in text
