"""Memory of an attachment upload: a 15 MiB PDF through a real ``gateway serve``.

The gateway runs as its own process pinned to CPU 0 (``taskset``); this process, pinned to
CPU 1, is the adapter: it uploads the file with ``adapters.link.files.upload`` (streamed from
disk), submits an imaging report referencing it, and downloads it as a recipient with
``download`` (which verifies the digest). The gateway's RSS (``VmRSS``) is sampled every
5 ms from /proc. Reported: idle RSS (after a warm-up upload of a small PDF, so the PDF
library is loaded), the peak above idle during the small upload (the baseline) and during
the 15 MiB one, and the file's size: the upload is streamed when the second peak stays a
few MiB above idle, far below the file.

    .venv/bin/python -m bench.attachments [--mib 15] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import filecmp
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import pikepdf

from adapters.link import GatewayClient
from adapters.link.files import download, upload
from bench.exchange import free_port, serve, wait_ready
from gateway.assembly import dev_key_path
from gateway.testing import default_config
from gateway.trust import SigningKey

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"
IMAGING = "cn.gov.zj.injury.imaging_lab_report.v1"
REPO_ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def make_pdf(path: Path, size: int) -> None:
    """A one-page PDF carrying ``size`` random bytes in a stream (a scan's weight)."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.Scan = pdf.make_stream(os.urandom(size))
    pdf.save(path)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def client(url: str, data: Path, dept: str, session: aiohttp.ClientSession) -> GatewayClient:
    key = SigningKey.load(dev_key_path(data, dept))
    return GatewayClient(url, dept, key, default_config().gateway.id, session)


def report(ref: dict[str, Any]) -> dict[str, Any]:
    path = sorted((REPO_ROOT / "schemas/examples/imaging_lab_report/valid").glob("*.json"))[0]
    import orjson

    data: dict[str, Any] = orjson.loads(path.read_bytes())
    data["attachments"] = [ref]
    return data


async def measure(url: str, data: Path, pid: int, big: Path, small: Path) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        hospital = client(url, data, HOSPITAL, session)
        await upload(hospital, small)  # warm-up: the PDF library is loaded from here on
        await asyncio.sleep(0.5)
        idle = rss_kib(pid)
        small2 = small.with_name("small2.pdf")
        make_pdf(small2, 4096)
        with Sampler(pid) as baseline:
            await upload(hospital, small2)
        started = time.perf_counter()
        with Sampler(pid) as sampled:
            ref = await upload(hospital, big)
        seconds = time.perf_counter() - started
        expected = hashlib.sha256(await asyncio.to_thread(big.read_bytes)).hexdigest()
        assert ref["digest"] == expected  # the adapter's end
        await hospital.submit(IMAGING, report(ref))
        got = await download(
            client(url, data, RECOGNITION, session), ref, data / "received" / "scan.pdf"
        )  # recipient's end: download() verifies the digest
        assert await asyncio.to_thread(filecmp.cmp, got, big, False)
    return {
        "idle": idle,
        "baseline_peak": baseline.peak,
        "peak": sampled.peak,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=15)
    parser.add_argument("--database", help="postgresql://... (default: SQLite)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        big, small = data / "scan.pdf", data / "small.pdf"
        make_pdf(big, args.mib * MIB - 4096)
        make_pdf(small, 4096)
        port = free_port()
        command = ["taskset", "-c", "0", sys.executable, "-m", "gateway", "serve"]
        command += ["--data-dir", str(data), "--port", str(port)]
        if args.database:
            command += ["--database", args.database]
        gateway = serve(command, data / "gateway.log")
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url)
            result = asyncio.run(measure(url, data, gateway.pid, big, small))
        finally:
            gateway.terminate()
            try:
                gateway.wait(15)
            except subprocess.TimeoutExpired:
                gateway.kill()
                gateway.wait()
    size_mib = (args.mib * MIB - 4096) / MIB
    base = (result["baseline_peak"] - result["idle"]) / 1024
    peak = (result["peak"] - result["idle"]) / 1024
    print(
        f"store: {'PostgreSQL (database store)' if args.database else 'SQLite (filesystem store)'}"
    )
    print(f"gateway RSS idle: {result['idle'] / 1024:.1f} MiB")
    print(f"peak above idle, 4 KiB PDF upload (baseline): {base:+.1f} MiB")
    print(
        f"peak above idle, {size_mib:.0f} MiB PDF upload: {peak:+.1f} MiB "
        f"({peak / size_mib:.2f} of the file's size), {result['seconds']:.2f} s"
    )
    print("digest verified by the adapter (upload answer) and by the recipient (download)")


if __name__ == "__main__":
    main()
