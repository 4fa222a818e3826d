"""``gateway demo``: the work-injury one-thing end to end on a simulated clock.

The story and the simulated department systems live with the adapters
(``adapters/simulated``): department knowledge stays out of the gateway core, and the
command only starts it. The gateway's own log lines go to stderr at WARNING so the
timeline on stdout stays readable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from gateway.logs import configure_logging


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="play the work-injury one-thing end to end",
        description="Start the gateway on its embedded default with every department "
        "simulated behind its real adapter, and replay three cases on a simulated clock.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the gateway's data and the systems' files here (default: a temporary "
        "directory, removed afterwards)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from adapters.simulated.demo import run_demo  # adapters build on gateway, not back

    configure_logging(logging.WARNING, stream=sys.stderr)
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run_demo(sys.stdout, args.data_dir))
    with tempfile.TemporaryDirectory(prefix="zjx-demo-") as folder:
        return asyncio.run(run_demo(sys.stdout, Path(folder)))
