"""Acceptance throughput and latency of the gateway against a bare aiohttp handler.

Both servers run as separate processes (one core each at most, as in production); the load
generator (``bench.load``) runs in a third process. Reported: accepted messages per second,
p50/p99 acceptance latency, end-to-end latency to a pull recipient's SSE stream, and the
ratio gateway/bare measured in the same run.

    .venv/bin/python -m bench.exchange [--messages 2000] [--concurrency 64] [--database URL]
        [--cases 50] [--config DIR]

With ``--cases N`` the gateway is measured a second time in the same run with every message
under one of N open work-injury cases (the case layer's cost on the submit path).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout: benchmarks run from it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not become ready")


def load(url: str, args: argparse.Namespace, run: str, **extra: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.load",
        "--url",
        url,
        "--run",
        run,
        "--messages",
        str(args.messages),
        "--concurrency",
        str(args.concurrency),
    ]
    for name, value in extra.items():
        command += [f"--{name.replace('_', '-')}", value]
    out = subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True).stdout
    result: dict[str, Any] = orjson.loads(out)
    return result


def serve(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=handle, stderr=handle)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--database", help="postgresql://... (default: SQLite)")
    parser.add_argument("--cases", type=int, default=0, help="also measure under N open cases")
    parser.add_argument("--config", help="the gateway's configuration directory ([crypto]...)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        bare_port, gw_port = free_port(), free_port()
        bare = serve(
            [sys.executable, "-m", "bench.bare", "--port", str(bare_port)], data / "bare.log"
        )
        gw_cmd = [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(gw_port),
        ]
        if args.database:
            gw_cmd += ["--database", args.database]
        if args.config:
            gw_cmd += ["--config", args.config]
        gateway = serve(gw_cmd, data / "gateway.log")
        try:
            bare_url, gw_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{gw_port}"
            wait_ready(bare_url)
            wait_ready(gw_url)
            baseline = load(bare_url, args, "bare")
            measured = load(
                gw_url,
                args,
                f"gw{int(time.time())}",
                data_dir=str(data),
                stream_as="330700.hrss.assessment",
            )
            rows = [("bare aiohttp handler", baseline), ("gateway", measured)]
            if args.cases:
                under_cases = load(
                    gw_url,
                    args,
                    f"gc{int(time.time())}",
                    data_dir=str(data),
                    stream_as="330700.hrss.assessment",
                    cases=str(args.cases),
                )
                rows.append((f"gateway, {args.cases} open cases", under_cases))
        finally:
            for process in (bare, gateway):
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    store = "PostgreSQL" if args.database else "SQLite (WAL, synchronous=FULL)"
    ratio = measured["accepted_per_second"] / baseline["accepted_per_second"]
    print(f"store: {store}; {args.messages} messages, {args.concurrency} concurrent")
    print(f"{'':28}{'msg/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'e2e p50':>10}{'e2e p99':>10}")
    for name, r in rows:
        e50 = f"{r['e2e_p50_ms']:.1f}" if r.get("e2e_p50_ms") else "-"
        e99 = f"{r['e2e_p99_ms']:.1f}" if r.get("e2e_p99_ms") else "-"
        print(
            f"{name:28}{r['accepted_per_second']:10.0f}{r['p50_ms']:10.1f}"
            f"{r['p99_ms']:10.1f}{e50:>10}{e99:>10}"
        )
    print(
        f"ratio gateway / bare: {ratio:.3f}; statuses {measured['statuses']}; "
        f"delivered to SSE {measured['delivered']}/{args.messages}"
    )
    if args.cases:
        cased = rows[-1][1]
        case_ratio = cased["accepted_per_second"] / baseline["accepted_per_second"]
        own_ratio = cased["accepted_per_second"] / measured["accepted_per_second"]
        print(
            f"ratio gateway under cases / bare: {case_ratio:.3f}; "
            f"under cases / without: {own_ratio:.3f}; statuses {cased['statuses']}"
        )


if __name__ == "__main__":
    main()
