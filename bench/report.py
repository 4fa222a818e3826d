"""The table (markdown), the chart (PNG) and the raw rounds (JSON) of ``bench.acceptance``.

Every figure is the median over the rounds; ratios are computed within each round (the
gateway against the floor measured minutes before it, on the same load) and then the median
of those ratios is taken, so a busy round does not skew a ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

PLAIN = "SQLite, 1 worker"


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio_of(rounds: Sequence[Any], name: str, against: Callable[[Any], float]) -> float | None:
    return _median(
        [r.gateway[name]["per_second"] / against(r) for r in rounds if name in r.gateway]
    )


def _aims(names: list[str]) -> dict[str, tuple[str, Callable[[Any], float]]]:
    """Per variant: the aim's text and what its ratio is taken against."""

    def plain(r: Any) -> float:
        return float(r.gateway[PLAIN]["per_second"])

    def pg_one(r: Any) -> float:
        return float(r.gateway["PostgreSQL, 1 worker"]["per_second"])

    aims: dict[str, tuple[str, Callable[[Any], float]]] = {
        PLAIN: (">= 0.6 of the floor", lambda r: r.floor),
    }
    for name in names:
        if "open cases" in name:
            aims[name] = (">= 0.8 of SQLite, 1 worker", plain)
        elif "routes" in name or "pending" in name:
            aims[name] = ("= 1.0 of SQLite, 1 worker (flat)", plain)
        elif name == "SQLite, 2 workers":
            aims[name] = ("> 1 of SQLite, 1 worker (scales)", plain)
        elif name == "PostgreSQL, 1 worker":
            aims[name] = (">= 0.5 of SQLite, 1 worker", plain)
        elif name == "PostgreSQL, 2 workers":
            aims[name] = (">= 1.6 of PostgreSQL, 1 worker", pg_one)
    return aims


def table(rounds: Sequence[Any], names: list[str]) -> list[str]:
    lines = [
        "| what | accepted/s | of the floor | aim | figure against its aim | p99 ms (closed) |",
        "|---|---:|---:|---|---:|---:|",
        f"| bare aiohttp handler (parse JSON, 202) | {_fmt(_median([r.bare for r in rounds]))}"
        f" | {_fmt(_median([r.bare / r.floor for r in rounds]), 2)} | well past the gateway"
        " (the load tool is not the bottleneck) | | |",
        f"| floor: bare + 1 Ed25519 verify + 1 sign | {_fmt(_median([r.floor for r in rounds]))}"
        " | 1.00 | | | |",
    ]
    aims = _aims(names)
    for name in names:
        runs = [r.gateway[name] for r in rounds if name in r.gateway]
        rate = _median([g["per_second"] for g in runs])
        of_floor = _median([r.gateway[name]["per_second"] / r.floor for r in rounds])
        aim, against = aims.get(name, ("", lambda r: r.floor))
        figure = _ratio_of(rounds, name, against) if aim else None
        p99 = _median([g["p99_us"] / 1000 for g in runs])
        lines.append(
            f"| gateway, {name} | {_fmt(rate)} | {_fmt(of_floor, 2)} | {aim} | {_fmt(figure, 2)}"
            f" | {_fmt(p99, 1)} |"
        )
    return lines


def backlog_lines(rounds: Sequence[Any], names: list[str]) -> list[str]:
    lines = []
    for name in names:
        runs = [r.gateway[name] for r in rounds if "scrape_ms" in r.gateway.get(name, {})]
        if runs:
            empty = _median([g["scrape_empty_ms"] for g in runs])
            deep = _median([g["scrape_ms"] for g in runs])
            seed = _median([g["seed_s"] for g in runs])
            lines.append(
                f"- `/metrics` scrape, {name}: {_fmt(deep, 1)} ms deep against {_fmt(empty, 1)}"
                f" ms empty (aim: the same); seeding took {_fmt(seed, 1)} s"
            )
    return lines


def open_loop(rounds: Sequence[Any]) -> list[list[float | None]]:
    """Per offered fraction: medians of offered, accepted, p50, p99, stream p50, stream p99."""
    runs = [
        r.gateway[PLAIN]["open_loop"] for r in rounds if "open_loop" in r.gateway.get(PLAIN, {})
    ]
    if not runs:
        return []
    keys = ("offered_per_second", "accepted_per_second", "p50_ms", "p99_ms")
    keys += ("stream_p50_ms", "stream_p99_ms", "floor_p99_ms")
    return [[_median([run[i].get(k) for run in runs]) for k in keys] for i in range(len(runs[0]))]


def open_loop_lines(rows: list[list[float | None]]) -> list[str]:
    lines = [
        "| offered/s | accepted/s | p50 ms | p99 ms | to the stream p50 ms | p99 ms"
        " | the floor's p99 ms at this rate |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        offered, accepted, p50, p99, s50, s99, floor99 = row
        lines.append(
            f"| {_fmt(offered)} | {_fmt(accepted)} | {_fmt(p50, 1)} | {_fmt(p99, 1)}"
            f" | {_fmt(s50, 1)} | {_fmt(s99, 1)} | {_fmt(floor99, 1)} |"
        )
    return lines


def chart(rows: list[list[float | None]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    offered = [r[0] or 0.0 for r in rows]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(offered, [r[1] or 0.0 for r in rows], "o-", color="tab:blue", label="accepted/s")
    left.plot(offered, offered, ":", color="grey", label="offered = accepted")
    left.set_xlabel("offered messages/s (open loop)")
    left.set_ylabel("accepted messages/s")
    right = left.twinx()
    right.plot(offered, [r[3] or 0.0 for r in rows], "s-", color="tab:red", label="p99 ms")
    right.plot(
        offered,
        [r[5] or 0.0 for r in rows],
        "^--",
        color="tab:orange",
        label="p99 ms to the stream",
    )
    right.set_ylabel("p99 latency, ms")
    right.set_yscale("log")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles=handles, loc="lower right", fontsize="small")
    left.set_title(f"gateway, {PLAIN}: throughput and p99 against offered rate")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_report(
    rounds: Sequence[Any],
    variants: Sequence[Any],
    args: argparse.Namespace,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    results: Path,
) -> None:
    results.mkdir(parents=True, exist_ok=True)
    names = [v.name for v in variants]
    rows = open_loop(rounds)
    lines = [
        f"Acceptance against its floor ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit"
        f" {_commit()}, {platform.python_implementation()} {platform.python_version()}).",
        "",
        f"Server pinned to core 0, load (wrk, 1 thread, 64 connections; the open-loop client)"
        f" to core 1; {args.seconds:g} s per run; medians of {len(rounds)} rounds. Load"
        f" average (1, 5, 15 min) before {load[0][0]:.1f} {load[0][1]:.1f} {load[0][2]:.1f},"
        f" after {load[1][0]:.1f} {load[1][1]:.1f} {load[1][2]:.1f}: the machine is shared,"
        " absolute figures are noisy, the ratios within a round are what count.",
        "",
        *table(rounds, names),
        "",
        *backlog_lines(rounds, names),
    ]
    if rows:
        lines += [
            "",
            f"Open loop, gateway {PLAIN}, at fractions of its peak (aim at half the peak: p99"
            " acceptance <= 10 ms, p99 acceptance to the pull recipient's stream <= 25 ms):",
            "",
            *open_loop_lines(rows),
        ]
        if chart(rows, results / "acceptance.png"):
            lines += ["", "![throughput and p99 against offered rate](acceptance.png)"]
    text = "\n".join(lines) + "\n"
    (results / "acceptance.md").write_text(text, encoding="utf-8")
    raw = [dataclasses.asdict(r) for r in rounds]
    (results / "acceptance.json").write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2))
    print(text)
