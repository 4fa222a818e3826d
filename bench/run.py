"""``make bench``: every benchmark, each with its baseline measured in the same run."""

from __future__ import annotations

import subprocess
import sys

from gateway.runtime import REPO_ROOT

for module in ("bench.validation", "bench.store", "bench.exchange"):
    print(f"== {module}", flush=True)
    subprocess.run([sys.executable, "-m", module], cwd=REPO_ROOT, check=True)
