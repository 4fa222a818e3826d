"""Open-loop load (wrk2-style constant rate): messages sent on a fixed schedule whatever the
answers, latency counted from each message's scheduled send time (no coordinated omission).

Also follows a pull recipient's live stream (SSE) and measures, per message, the time from
its acceptance (the ``zjx:accepted`` time in the gateway's countersignature) to its arrival
in the stream. Runs in its own process, pinned to the load core by ``bench.acceptance``;
prints one JSON object.

    python -m bench.openloop --url URL --pool FILE --offset K --rate R --seconds S
        [--data-dir DIR --stream-as DEPT]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from gateway.assembly import dev_key_path
from gateway.trust import SigningKey, issue_token

GATEWAY_ID = "330000.exchange"
HEADERS = {"content-type": "application/jose+json"}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def _b64json(text: str) -> Any:
    return orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _accepted(body: bytes) -> tuple[str, float]:
    """The event id and the Unix time the gateway's countersignature states."""
    message = orjson.loads(body)
    header = _b64json(message["signatures"][1]["protected"])
    at = datetime.fromisoformat(header["zjx:accepted"].replace("Z", "+00:00")).timestamp()
    return _b64json(message["payload"])["id"], at


async def follow(
    url: str,
    key: SigningKey,
    ours: set[str],
    lags: list[float],
    ready: asyncio.Event,
    heard: list[float],
) -> None:
    """Lags of this run's messages only (the stream first replays the recipient's inbox)."""
    token = issue_token(key, GATEWAY_ID, now=datetime.now(UTC))
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(
            f"{url}/v1/inbox/stream", headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        ready.set()
        async for line in response.content:
            heard[0] = time.monotonic()
            if line.startswith(b"data: "):
                event_id, at = _accepted(line[6:])
                if event_id in ours:
                    lags.append(time.time() - at)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    count = int(args.rate * args.seconds)
    with args.pool.open("rb") as handle:
        lines = handle.read().splitlines()[args.offset : args.offset + count]
    if len(lines) < count:
        raise SystemExit(f"the pool has fewer than {args.offset + count} messages")
    lags: list[float] = []
    follower = None
    if args.stream_as:
        ready = asyncio.Event()
        key = SigningKey.load(dev_key_path(args.data_dir, args.stream_as))
        ours = {_b64json(orjson.loads(line)["payload"])["id"] for line in lines}
        heard = [time.monotonic()]
        follower = asyncio.create_task(follow(args.url, key, ours, lags, ready, heard))
        await asyncio.wait_for(ready.wait(), 10)
        # let the replay of the inbox (earlier runs' messages) pass before the schedule starts
        while time.monotonic() - heard[0] < 0.5:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=1024)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(body: bytes, due: float) -> None:
            try:
                async with session.post(
                    f"{args.url}/v1/messages", data=body, headers=HEADERS
                ) as response:
                    await response.read()
                    key = str(response.status)
            except aiohttp.ClientError as exc:
                key = type(exc).__name__
            statuses[key] = statuses.get(key, 0) + 1
            latencies.append(time.perf_counter() - due)

        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        tasks = []
        for i, body in enumerate(lines):
            due = began + i / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(send(body, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    if follower is not None:
        deadline = time.perf_counter() + 10
        while len(lags) < count and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        follower.cancel()
    ms = 1000.0
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    s50, s99 = percentile(lags, 0.5), percentile(lags, 0.99)
    return {
        "offered_per_second": args.rate,
        "accepted_per_second": statuses.get("202", 0) / elapsed,
        "statuses": statuses,
        "p50_ms": p50 * ms if p50 is not None else None,
        "p99_ms": p99 * ms if p99 is not None else None,
        "stream_p50_ms": s50 * ms if s50 is not None else None,
        "stream_p99_ms": s99 * ms if s99 is not None else None,
        "streamed": len(lags),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--pool", type=Path, required=True)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--stream-as")
    result = asyncio.run(run(parser.parse_args()))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
