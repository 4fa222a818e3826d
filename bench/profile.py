"""Where acceptance spends its CPU: ``py-spy`` samples the gateway (pinned to core 0) while
``wrk`` (core 1) drives it at its peak; the samples are summed into CPU microseconds per
accepted message for each step of the path.

    python -m bench.profile [--seconds 15] [--database URL] [--out bench/results/profile]

Writes ``<out>.txt`` (the per-step table) and ``<out>.collapsed`` (folded stacks, for a
flame graph). A step's figure is inclusive (what runs below it counts too), so the rows
overlap; "all samples" is the whole process, every thread.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from bench.acceptance import (
    RESULTS,
    SERVER_CORE,
    free_port,
    make_pool,
    pinned,
    server,
    wrk,
)
from bench.load import open_cases
from gateway.assembly import build_context, load_static
from gateway.options import Options

RATE_HZ = 250
#: step -> substrings of a frame ("function (file)") that mark it, first match wins per stack
STEPS: dict[str, tuple[str, ...]] = {
    "HTTP request, aiohttp (inclusive: everything below)": ("web_protocol.py",),
    "  request id (uuid4: a getrandom call)": ("uuid4 (",),
    "submit handler (inclusive)": ("submit (gateway/api/messages.py",),
    "  strict parse of the JWS and the event": ("parse (gateway/messages/message.py",),
    "  origin signature verify": ("verify_origin (",),
    "  schema and semantic checks": ("_check_document (",),
    "  dedup lookup (find_message)": ("find_message (",),
    "  routing": ("decide (gateway/routing",),
    "  store accept, caller side": ("accept (gateway/storage/core.py",),
    "  metrics (prometheus_client)": ("prometheus_client",),
    "  logging (structlog)": ("structlog",),
    "  case layer (observe)": ("observe (gateway/cases",),
    "writer thread: commit, countersign, audit": ("_writer_main (",),
    "  countersign (in the writer's batch)": ("countersign (",),
    "  audit entry": ("_chain (", "next_entry ("),
    "  SQLite commit": ("_run_batch (",),
    "dispatcher and other workers": ("run_forever (gateway/delivery",),
}


def summarise(collapsed: Path, accepted: int) -> list[str]:
    totals = dict.fromkeys(STEPS, 0)
    every = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        every += count
        for step, marks in STEPS.items():
            if any(mark in stack for mark in marks):
                totals[step] += count
    per = 1e6 / RATE_HZ / max(accepted, 1)
    lines = [f"{'step':58}{'us/message':>12}"]
    lines.append(f"{'all samples (every thread)':58}{every * per:12.0f}")
    lines += [f"{step:58}{n * per:12.0f}" for step, n in totals.items()]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--database")
    parser.add_argument("--cases", type=int, default=0, help="every message under N open cases")
    parser.add_argument("--out", type=Path, default=RESULTS / "profile")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        data = Path(tmp)
        config, schemas, key = load_static(Options(data_dir=data))
        build_context(config, schemas, data, key)
        port = free_port()
        command = [sys.executable, "-m", "gateway", "serve", "--data-dir", str(data)]
        command += ["--port", str(port)]
        if args.database:
            command += ["--database", args.database]
        with server(pinned(SERVER_CORE, command), data / "gateway.log", port) as url:
            cases = (
                asyncio.run(open_cases(url, data, args.cases, "profile")) if args.cases else None
            )
            pool = make_pool(data / "dev-keys", data / "pool", args.seconds * 3000, cases)
            pid = subprocess.run(
                ["lsof", "-t", f"-iTCP:{port}", "-sTCP:LISTEN"], capture_output=True, text=True
            ).stdout.split()[0]
            collapsed = args.out.with_suffix(".collapsed")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            recorder = subprocess.Popen(
                pinned(
                    "1",
                    [
                        *(spy, "record", "--pid", pid, "--rate", str(RATE_HZ), "--format", "raw"),
                        *("--duration", str(args.seconds), "--output", str(collapsed)),
                        "--nonblocking",
                    ],
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            result = wrk(url, pool, args.seconds)
            recorder.wait()
        accepted = int(result["statuses"].get("202", 0))
        lines = [
            f"gateway {'PostgreSQL' if args.database else 'SQLite'}, 1 worker,"
            f" {args.cases} open cases, {accepted} accepted"
            f" in {args.seconds} s ({result['per_second']:.0f}/s) under py-spy at {RATE_HZ} Hz"
            f" (run {uuid.uuid4().hex[:6]})",
            *summarise(collapsed, accepted),
        ]
        args.out.with_suffix(".txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
