"""``make bench``: every benchmark, each with its baseline measured in the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout: benchmarks run from it


RUNS = (
    ["bench.validation"],
    ["bench.crypto"],
    ["bench.store"],
    # the exchange, and the same gateway with every message under one of 50 open cases
    ["bench.exchange", "--cases", "50"],
    # memory with never-reading SSE clients, against its stated bound per stream
    ["bench.streams"],
    # what a metrics scrape costs the store at 1,000 and at 1,000,000 pending
    ["bench.scrape"],
)

for run in RUNS:
    print(f"== {' '.join(run)}", flush=True)
    subprocess.run([sys.executable, "-m", *run], cwd=REPO_ROOT, check=True)
