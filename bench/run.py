"""``make bench``: every benchmark, each with its baseline measured in the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout: benchmarks run from it


RUNS = (
    ["bench.validation"],
    ["bench.store"],
    # acceptance against its floor: SQLite and PostgreSQL, 1 and 2 workers, with the case
    # layer, 1,000 routes, a deep backlog; table and chart in bench/results/ (issue 15)
    ["bench.acceptance"],
)

for run in RUNS:
    print(f"== {' '.join(run)}", flush=True)
    subprocess.run([sys.executable, "-m", *run], cwd=REPO_ROOT, check=True)
