"""Acceptance against its floor, one core then every core (issue 15).

One run measures, each server pinned to core 0 with ``taskset`` and the load pinned to core 1:

- ``bare``: an aiohttp handler that parses the JSON body and answers 202 (``bench.bare``);
- ``floor``: the same plus one Ed25519 verify and one Ed25519 sign, what no acceptance avoids;
- the gateway (``gateway serve``) in each variant: SQLite or PostgreSQL, 1 or 2 workers
  (2 workers take both cores, sharing core 1 with the load), with every message under one of
  50 open cases, with 1,000 routes, with a deep backlog of pending deliveries.

Peak: closed loop, ``wrk`` (one thread, 64 connections) feeding distinct pre-signed messages
(``bench/messages.lua``); ``bare`` shows the load tool drives well past the gateway. Latency:
open loop at fixed fractions of the measured peak (``bench.openloop``), with the time from
acceptance to a pull recipient's live stream. Every figure is the median of ``--repeat``
rounds; what counts are the ratios to the floor measured in the same round.

Writes ``bench/results/acceptance.md`` (table), ``acceptance.png`` (throughput and p99
against offered rate) and ``acceptance.json`` (every round).

    python -m bench.acceptance [--seconds 5] [--repeat 3] [--backlog 1000000]
        [--database postgresql://postgres@127.0.0.1:5432/postgres] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench import backlog
from bench.load import open_cases
from gateway.assembly import build_context, load_static
from gateway.options import Options
from gateway.packaged import default_config_dir

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SERVER_CORE, LOAD_CORE = "0", "1"
CONNECTIONS = 64
FRACTIONS = (0.25, 0.5, 0.75, 1.0)  # open-loop rates, as fractions of the measured peak
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
STREAM_AS = "330700.hrss.assessment"


@dataclass(frozen=True)
class Variant:
    """One gateway configuration measured at its peak."""

    name: str
    store: str = "sqlite"  # or "postgresql"
    workers: int = 1
    cases: int = 0
    routes: int = 0  # extra routes on the measured type (0: the default configuration's 20)
    backlog: int = 0
    open_loop: bool = False


@dataclass
class Round:
    bare: float = 0.0
    floor: float = 0.0
    gateway: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_loop: list[dict[str, Any]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cores: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cores, *command]


def wait_ready(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not become ready")


@contextmanager
def server(command: list[str], log: Path, port: int) -> Iterator[str]:
    """Start ``command`` (its own process group), yield its URL once ready, then stop it."""
    with log.open("ab") as handle:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=handle, stderr=handle, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(url: str, pool: Path, seconds: float) -> dict[str, Any]:
    """Closed-loop peak: answers per second by status, from the Lua script's JSON line."""
    command = pinned(
        LOAD_CORE,
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(REPO / "bench" / "messages.lua"),
            f"{url}/v1/messages",
        ],
    )
    env = os.environ | {"BENCH_MESSAGES": str(pool)}
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1])
    seconds_taken = result["duration_us"] / 1e6
    result["per_second"] = result["statuses"].get("202", 0) / seconds_taken
    return result


def make_pool(keys: Path, out: Path, count: int, cases: list[str] | None = None) -> Path:
    command = [
        sys.executable,
        "-m",
        "bench.pool",
        "--keys",
        str(keys),
        "--out",
        str(out),
        "--count",
        str(count),
        "--run",
        uuid.uuid4().hex[:8],
        "--cases",
        ",".join(cases or []),
    ]
    subprocess.run(pinned(LOAD_CORE, command), cwd=REPO, check=True)
    return out


def routes_config(root: Path, extra: int) -> Path:
    """The default configuration with ``extra`` routes more, all on the measured type, each
    with a condition no message meets (the router looks at every one of them)."""
    target = root / f"config-{extra}"
    if not target.exists():
        shutil.copytree(default_config_dir(), target)
        with (target / "routes.toml").open("a", encoding="utf-8") as handle:
            for i in range(extra):
                handle.write(
                    f'\n[[routes]]\nname = "bench-filler-{i}"\n'
                    'type = "cn.gov.zj.injury.medical_diagnosis.v1"\n'
                    'to = ["330784.hrss.recognition"]\n'
                    f'when = {{ "/subject" = "NO-SUCH-CASE-{i}" }}\n'
                )
    return target


async def _database(admin_dsn: str, name: str, create: bool) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
        else:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def dsn_for(admin_dsn: str, name: str) -> str:
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


def scrape_ms(url: str, times: int = 5) -> float:
    """Median milliseconds of a ``/metrics`` scrape."""
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        with urllib.request.urlopen(f"{url}/metrics", timeout=60) as response:
            response.read()
        taken.append((time.perf_counter() - started) * 1000)
    return statistics.median(taken)


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.keys = root / "template" / "dev-keys"
        config, schemas, gateway_key = load_static(Options(data_dir=root / "template"))
        build_context(config, schemas, root / "template", gateway_key)  # makes the dev keys
        self.pool_count = int(args.seconds * args.pool_rate)

    def baseline(self, mode: str) -> float:
        port = free_port()
        command = [sys.executable, "-m", "bench.bare", "--port", str(port), "--mode", mode]
        command += ["--key", str(self.keys / "330784.health.h001.jwk")]
        pool = make_pool(self.keys, self.root / f"pool-{mode}", self.pool_count)
        with server(pinned(SERVER_CORE, command), self.root / f"{mode}.log", port) as url:
            return float(wrk(url, pool, self.args.seconds)["per_second"])

    def gateway(self, variant: Variant) -> dict[str, Any]:
        data = self.root / f"data-{uuid.uuid4().hex[:6]}"
        data.mkdir()
        shutil.copytree(self.keys, data / "dev-keys")
        port = free_port()
        command = [sys.executable, "-m", "gateway", "serve", "--data-dir", str(data)]
        command += ["--port", str(port), "--workers", str(variant.workers)]
        if variant.routes:
            command += ["--config", str(routes_config(self.root, variant.routes))]
        database = None
        if variant.store == "postgresql":
            database = f"bench_{uuid.uuid4().hex[:10]}"
            asyncio.run(_database(self.args.database, database, create=True))
            command += ["--database", dsn_for(self.args.database, database)]
        cores = SERVER_CORE if variant.workers == 1 else f"{SERVER_CORE},{LOAD_CORE}"
        result: dict[str, Any] = {}
        try:
            with server(pinned(cores, command), data / "gateway.log", port) as url:
                if variant.backlog:
                    result["scrape_empty_ms"] = scrape_ms(url)
                    result["seed_s"] = self._seed(variant, data, database)
                    result["scrape_ms"] = scrape_ms(url)
                cases = None
                if variant.cases:
                    cases = asyncio.run(open_cases(url, data, variant.cases, "bench"))
                pool = make_pool(self.keys, data / "pool", self.pool_count, cases)
                result |= wrk(url, pool, self.args.seconds)
                if result["wrapped"]:
                    print(f"  warning: {variant.name}: the pool ran out (raise --pool-rate)")
                if variant.open_loop:
                    result["open_loop"] = self.open_loop(url, data, result["per_second"])
        finally:
            if database is not None:
                asyncio.run(_database(self.args.database, database, create=False))
            shutil.rmtree(data, ignore_errors=True)
        return result

    def _seed(self, variant: Variant, data: Path, database: str | None) -> float:
        if database is None:
            return backlog.seed_sqlite(data / "gateway.sqlite3", variant.backlog)
        return backlog.seed_postgres(dsn_for(self.args.database, database), variant.backlog)

    def open_loop(self, url: str, data: Path, peak: float) -> list[dict[str, Any]]:
        """The gateway at fractions of its peak, then the floor at the same rates: the
        floor's p99 is what the machine itself adds (other work preempting the server)."""
        rates = [max(10.0, round(peak * f)) for f in FRACTIONS]
        pool = make_pool(self.keys, data / "pool-open", int(sum(rates) * self.args.seconds) + 10)
        results = self._schedule(
            url, pool, rates, ["--data-dir", str(data), "--stream-as", STREAM_AS]
        )
        port = free_port()
        command = [sys.executable, "-m", "bench.bare", "--port", str(port), "--mode", "floor"]
        command += ["--key", str(self.keys / "330784.health.h001.jwk")]
        with server(pinned(SERVER_CORE, command), data / "floor.log", port) as floor_url:
            for result, floor in zip(
                results, self._schedule(floor_url, pool, rates, []), strict=True
            ):
                result["floor_p99_ms"] = floor["p99_ms"]
        return results

    def _schedule(
        self, url: str, pool: Path, rates: list[float], extra: list[str]
    ) -> list[dict[str, Any]]:
        results, offset = [], 0
        for rate in rates:
            command = [sys.executable, "-m", "bench.openloop", "--url", url, "--pool", str(pool)]
            command += ["--offset", str(offset), "--rate", str(rate)]
            command += ["--seconds", str(self.args.seconds), *extra]
            out = subprocess.run(
                pinned(LOAD_CORE, command), cwd=REPO, check=True, capture_output=True
            ).stdout
            results.append(orjson.loads(out))
            offset += int(rate * self.args.seconds)
        return results


def variants(args: argparse.Namespace) -> list[Variant]:
    chosen = [
        Variant("SQLite, 1 worker", open_loop=True),
        Variant("SQLite, 1 worker, 50 open cases", cases=50),
        Variant("SQLite, 1 worker, 1,000 routes", routes=980),
        Variant(f"SQLite, 1 worker, {args.backlog:,} pending", backlog=args.backlog),
        Variant("PostgreSQL, 1 worker", store="postgresql"),
        Variant("PostgreSQL, 2 workers", store="postgresql", workers=2),
    ]
    if args.quick:
        return chosen[:1]
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Needs wrk and taskset, and PostgreSQL for its rows; about 12 minutes in full. "
        "Writes bench/results/acceptance.md, .png and .json.",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument(
        "--backlog", type=int, default=1_000_000, help="pending deliveries seeded for its row"
    )
    parser.add_argument("--database", default=DEFAULT_PG, help="PostgreSQL server (admin DSN)")
    parser.add_argument(
        "--pool-rate",
        type=float,
        default=4000,
        help="pre-signed messages made per second of load run",
    )
    parser.add_argument("--quick", action="store_true", help="SQLite, 1 worker only")
    parser.add_argument("--only", help="run only the variants whose name contains this")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    chosen = [v for v in variants(args) if not args.only or args.only in v.name]
    load_before = os.getloadavg()
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="bench-acceptance-") as tmp:
        bench = Bench(args, Path(tmp))
        for index in range(args.repeat):
            print(f"round {index + 1}/{args.repeat}", flush=True)
            current = Round(bare=bench.baseline("bare"), floor=bench.baseline("floor"))
            print(f"  bare {current.bare:.0f}/s, floor {current.floor:.0f}/s", flush=True)
            for variant in chosen:
                current.gateway[variant.name] = bench.gateway(variant)
                figure = current.gateway[variant.name]["per_second"]
                print(f"  {variant.name}: {figure:.0f}/s", flush=True)
            rounds.append(current)
    load_after = os.getloadavg()
    from bench.report import write_report

    write_report(rounds, chosen, args, (load_before, load_after), RESULTS)


if __name__ == "__main__":
    main()
