"""Kill tests on the case layer: real ``gateway serve`` processes are SIGKILLed while
application forms are in flight, so some cases die between sending their material requests
and saving. After the restart the catch-up sends them again.

Reproduced (issue 13): the re-sent requests carried a new ``requested_at`` and event time, the
gateway answered ``409 id-reused`` and the timeline recorded "refused (id-reused)" though the
originals were delivered (87 of 1,473 cases on SQLite; on two PostgreSQL instances also
without a crash, two instances handling one form at once). Now every message the case
service sends is a function of the case's state, so the re-send is the same message and gets
its first receipt: no timeline entry is refused, and each request is delivered once.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from gateway.assembly import dev_key_path
from gateway.messages import sign_message
from gateway.messages.event import build_event
from gateway.trust import SigningKey
from tests.cases.conftest import REPO, doc_type, example
from tests.exchange.processes import free_port, gateway_process, inbox_ids, submit, wait_ready

CASES = 12
PORTAL = "330784.zlb"
ISSUERS = {  # the press form's recognition materials, by issuer
    "330784.police.household": ("resident_id_info",),
    "330784.hrss.benefits": ("insurance_enrollment", "labour_contract"),
    "330784.market": ("business_licence",),
    "330784.health.h001": ("medical_diagnosis", "admission_discharge_record"),
}


def quick_config(tmp_path: Path) -> Path:
    """The shipped configuration with the catch-up running every second."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    toml = config / "gateway.toml"
    toml.write_text(
        toml.read_text().replace('check_interval = "1m"', 'check_interval = "1s"'), "utf-8"
    )
    return config


def forms(data_dir: Path) -> dict[str, bytes]:
    """``CASES`` application forms, signed by the portal: case id -> body."""
    key = SigningKey.load(dev_key_path(data_dir, PORTAL))
    bodies = {}
    for serial in range(1, CASES + 1):
        form = copy.deepcopy(example("application_form", "workplace_press"))
        form["application_number"] = f"ZLB-GS-20260715-{serial:05d}"
        event = build_event(
            source=PORTAL, type=doc_type("application_form"), data=form, id=f"form-{serial}"
        )
        bodies[f"GS-330784-2026-{serial:06d}"] = sign_message(event, key)
    return bodies


async def load_and_kill(
    urls: Sequence[str],
    bodies: dict[str, bytes],
    victim: subprocess.Popen[bytes],
    data_dir: Path,
) -> dict[str, set[int | None]]:
    """Submit every form to every url at once; SIGKILL ``victim`` the moment the first
    material request reaches an issuer's inbox (seen through the last url): the case layer
    is then sending, and no case has been saved yet. Returns the answers per case id."""
    answers: dict[str, set[int | None]] = {case: set() for case in bodies}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def one(case: str, url: str) -> None:
            answers[case].add(await submit(session, url, bodies[case]))

        async def kill_when_sending() -> None:
            for _ in range(500):
                if await inbox_ids(session, urls[-1], data_dir, "330784.police.household"):
                    break
                await asyncio.sleep(0.01)
            os.kill(victim.pid, signal.SIGKILL)

        await asyncio.gather(
            kill_when_sending(), *(one(case, url) for case in bodies for url in urls)
        )
    victim.wait(10)
    assert victim.returncode == -signal.SIGKILL
    return answers


async def admin_case(session: aiohttp.ClientSession, url: str, token: str, case: str) -> Any:
    async with session.get(
        f"{url}/admin/v1/cases/{case}", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return orjson.loads(await response.read()) if response.status == 200 else None


async def settled_cases(url: str, data_dir: Path, cases: Sequence[str]) -> dict[str, Any]:
    """Every case once the catch-up has sent all of its requests (at most 30 s)."""
    token = (data_dir / "admin-token").read_text().strip()
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            shown = {c: await admin_case(session, url, token, c) for c in cases}
            if all(c is not None and len(_requests(c)) == 6 for c in shown.values()):
                return shown
            await asyncio.sleep(0.1)
    missing = [c for c, v in shown.items() if v is None or len(_requests(v)) != 6]
    raise AssertionError(f"cases not settled: {missing}")


def _requests(case: Any) -> list[Any]:
    return [s for s in case["timeline"] if s["kind"] == "request"]


async def assert_nothing_refused_and_delivered_once(
    url: str, data_dir: Path, cases: Sequence[str]
) -> None:
    shown = await settled_cases(url, data_dir, cases)
    for case_id, case in shown.items():
        refused = [s["note"] for s in case["timeline"] if "refused" in s["note"]]
        assert refused == [], f"{case_id}: {refused}"
        notes = [s["note"] for s in _requests(case)]
        assert len(set(notes)) == 6, f"{case_id}: {notes}"
        assert [s["kind"] for s in case["timeline"]].count("opened") == 1
    async with aiohttp.ClientSession() as session:
        for issuer, names in ISSUERS.items():
            ids = await inbox_ids(session, url, data_dir, issuer)
            expected = {f"{c}/request/recognition/{n}" for c in cases for n in names}
            assert sorted(i for i in ids if "/request/" in i) == sorted(expected), issuer


async def first_start(data_dir: Path, config: Path, database: str | None) -> None:
    """Start once so the development keys exist before the forms are signed."""
    port = free_port()
    with gateway_process(data_dir, port, config_dir=config, database=database):
        await wait_ready(f"http://127.0.0.1:{port}")


async def test_a_killed_instance_resends_the_same_requests(
    tmp_path: Path, database: str | None
) -> None:
    config = quick_config(tmp_path)
    await first_start(tmp_path, config, database)
    bodies = forms(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with gateway_process(tmp_path, port, config_dir=config, database=database) as process:
        await wait_ready(url)
        answers = await load_and_kill([url], bodies, process, tmp_path)
    accepted = [c for c, a in answers.items() if 202 in a]
    assert len(accepted) < CASES, "the kill came after everything was answered"
    with gateway_process(tmp_path, port, config_dir=config, database=database):
        await wait_ready(url)
        async with aiohttp.ClientSession() as session:
            for case in sorted(set(bodies) - set(accepted)):  # senders retry what was cut
                assert await submit(session, url, bodies[case]) == 202
        await assert_nothing_refused_and_delivered_once(url, tmp_path, sorted(bodies))


async def test_two_instances_and_a_kill_send_each_request_once(tmp_path: Path, pg_url: str) -> None:
    """Both instances get every form at once; one is killed and comes back. Each instance's
    catch-up also applies the other's messages, so the two race on every case."""
    config = quick_config(tmp_path)
    await first_start(tmp_path, config, pg_url)
    bodies = forms(tmp_path)
    ports = (free_port(), free_port())
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    with gateway_process(tmp_path, ports[0], config_dir=config, database=pg_url) as one:
        await wait_ready(urls[0])
        with gateway_process(tmp_path, ports[1], config_dir=config, database=pg_url):
            await wait_ready(urls[1])
            answers = await load_and_kill(urls, bodies, one, tmp_path)
            assert all(202 in a for a in answers.values())  # the survivor took every form
            with gateway_process(tmp_path, ports[0], config_dir=config, database=pg_url):
                await wait_ready(urls[0])
                for url in urls:
                    await assert_nothing_refused_and_delivered_once(url, tmp_path, sorted(bodies))
