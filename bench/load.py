"""The load generator, in its own process: pre-signs N messages, then sends them with C
concurrent connections and reports JSON on stdout.

With ``--stream-as DEPT`` it also follows that recipient's SSE stream and measures end-to-end
latency: from the moment a submission was sent to the moment the message arrived in the
recipient's stream.

With ``--cases N`` it first opens N work-injury cases (one application form each, from the
citizen portal) and sends every message under one of them, so each acceptance also goes
through the case layer (load the case, apply, save with its version check).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from gateway.assembly import dev_key_path
from gateway.messages import build_event, sign_message
from gateway.packaged import default_schema_dir
from gateway.trust import SigningKey, issue_token

TYPE = "cn.gov.zj.injury.medical_diagnosis.v1"
SOURCE = "330784.health.h001"
PORTAL = "330784.zlb"
FORM = "cn.gov.zj.injury.application_form.v1"
GATEWAY_ID = "330000.exchange"


def _document() -> dict[str, Any]:
    path = sorted((default_schema_dir() / "examples/medical_diagnosis/valid").glob("*.json"))[0]
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def presign(
    data_dir: Path | None, n: int, run: str, cases: list[str] | None = None
) -> dict[str, bytes]:
    key = (
        SigningKey.load(dev_key_path(data_dir, SOURCE))
        if data_dir
        else SigningKey.generate(f"{SOURCE}/bench")
    )
    document = _document()

    def under(case: str | None) -> dict[str, Any]:
        # a document sent under a case names that case (subject and data.case_id agree)
        return document if case is None else {**document, "case_id": case}

    return {
        f"{run}-{i}": sign_message(
            build_event(
                source=SOURCE,
                type=TYPE,
                data=under(cases[i % len(cases)] if cases else None),
                id=f"{run}-{i}",
                subject=cases[i % len(cases)] if cases else None,
            ),
            key,
        )
        for i in range(n)
    }


async def open_cases(url: str, data_dir: Path, count: int, run: str) -> list[str]:
    """Submit ``count`` application forms; returns the case ids the case layer gives them
    (``ZLB-GS-<date>-<serial>`` -> ``GS-330784-<year>-<serial>``)."""
    key = SigningKey.load(dev_key_path(data_dir, PORTAL))
    path = default_schema_dir() / "examples/application_form/valid/workplace_press.json"
    form: dict[str, Any] = orjson.loads(path.read_bytes())
    base = int(time.time()) % 90_000  # distinct serials per run on the same database
    serials = [base + i for i in range(count)]
    async with aiohttp.ClientSession() as session:
        for serial in serials:
            form["application_number"] = f"ZLB-GS-20261129-{serial:06d}"
            body = sign_message(
                build_event(source=PORTAL, type=FORM, data=form, id=f"{run}-form-{serial}"), key
            )
            async with session.post(
                f"{url}/v1/messages", data=body, headers={"content-type": "application/jose+json"}
            ) as response:
                if response.status != 202:
                    raise SystemExit(f"opening a case failed: {response.status}")
    return [f"GS-330784-2026-{serial:06d}" for serial in serials]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def follow(
    url: str, data_dir: Path, recipient: str, arrivals: dict[str, float], ready: asyncio.Event
) -> None:
    key = SigningKey.load(dev_key_path(data_dir, recipient))
    token = issue_token(key, GATEWAY_ID, now=datetime.now(UTC))
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(
            f"{url}/v1/inbox/stream", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            ready.set()
            async for line in response.content:
                if line.startswith(b"data: "):
                    payload = orjson.loads(line[6:])["payload"]
                    event = orjson.loads(
                        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
                    )
                    arrivals[event["id"]] = time.perf_counter()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cases = None
    if args.cases:
        cases = await open_cases(args.url, args.data_dir, args.cases, args.run)
    bodies = presign(args.data_dir, args.messages, args.run, cases)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    arrivals: dict[str, float] = {}
    follower = None
    if args.stream_as:
        ready = asyncio.Event()
        follower = asyncio.create_task(
            follow(args.url, args.data_dir, args.stream_as, arrivals, ready)
        )
        await asyncio.wait_for(ready.wait(), 10)
    queue = list(bodies.items())
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while queue:
                event_id, body = queue.pop()
                started = time.perf_counter()
                sent[event_id] = started
                async with session.post(
                    f"{args.url}/v1/messages",
                    data=body,
                    headers={"content-type": "application/jose+json"},
                ) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - began
    end_to_end: list[float] = []
    if follower is not None:
        deadline = time.perf_counter() + 30
        while len(arrivals) < len(bodies) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        follower.cancel()
        end_to_end = [arrivals[k] - sent[k] for k in arrivals if k in sent]
    return {
        "messages": len(bodies),
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "accepted_per_second": statuses.get(202, 0) / elapsed,
        "statuses": {str(k): v for k, v in statuses.items()},
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "e2e_p50_ms": percentile(end_to_end, 0.50) * 1000 if end_to_end else None,
        "e2e_p99_ms": percentile(end_to_end, 0.99) * 1000 if end_to_end else None,
        "delivered": len(end_to_end),
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--stream-as")
    parser.add_argument("--run", default="bench")
    parser.add_argument("--cases", type=int, default=0, help="send under N open cases")
    result = asyncio.run(run(parser.parse_args()))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
