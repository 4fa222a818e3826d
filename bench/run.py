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
    # acceptance against its floor: SQLite and PostgreSQL, 1 and 2 workers, with the case
    # layer, 1,000 routes, a deep backlog; table and chart in bench/results/ (issue 15)
    ["bench.acceptance"],
    # the gateway's memory while a 15 MiB PDF is uploaded
    ["bench.attachments"],
    # memory with never-reading SSE clients, against its stated bound per stream
    ["bench.streams"],
    # what a metrics scrape costs the store at 1,000 and at 1,000,000 pending
    ["bench.scrape"],
)

for run in RUNS:
    print(f"== {' '.join(run)}", flush=True)
    subprocess.run([sys.executable, "-m", *run], cwd=REPO_ROOT, check=True)
