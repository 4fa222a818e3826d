"""The metric families exist, label sets stay bounded, and promtool's linter is clean."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.link import SubmitError
from gateway.testing import GatewayHandle, running_gateway
from tests.exchange.conftest import DIAGNOSIS, example

FAMILIES = (
    "zjx_messages_received", "zjx_messages_accepted", "zjx_messages_duplicate",
    "zjx_messages_rejected", "zjx_signature_failures", "zjx_validation_failures",
    "zjx_accept_latency_seconds", "zjx_delivery_attempts", "zjx_deliveries",
    "zjx_delivery_latency_seconds", "zjx_dead_letters", "zjx_deliveries_pending",
    "zjx_deliveries_oldest_pending_age_seconds", "zjx_breaker_open", "zjx_http_requests",
    "zjx_cases_open", "zjx_case_duration_seconds", "zjx_case_deadline_breaches",
)  # fmt: skip


async def _traffic(gw: GatewayHandle) -> str:
    hospital = gw.client("330784.health.h001")
    signed = hospital.sign(DIAGNOSIS, example("medical_diagnosis"), event_id="m-1")
    receipt = await hospital.submit_signed(signed)
    await hospital.submit_signed(signed)  # a duplicate
    bad = example("medical_diagnosis")
    bad["diagnoses"] = []
    with pytest.raises(SubmitError):
        await hospital.submit(DIAGNOSIS, bad, event_id="m-2")
    await gw.client("330700.hrss.assessment").ack([receipt["sequence"]])
    async with gw.session.get(f"{gw.base_url}/metrics") as response:
        return await response.text()


async def test_families_exist_without_ids_in_labels(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        text = await _traffic(gw)
    for family in FAMILIES:
        assert re.search(rf"^# TYPE {family}(_total)? ", text, re.MULTILINE), family
    assert "m-1" not in text and "m-2" not in text
    assert 'zjx_validation_failures_total{type="cn.gov.zj.injury.medical_diagnosis.v1"} 1.0' in text
    assert 'zjx_deliveries_total{mode="pull",recipient="330700.hrss.assessment"} 1.0' in text


async def test_promtool_check_metrics_is_clean(tmp_path: Path, database: str | None) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool missing in CI: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (Debian package prometheus)")
    async with running_gateway(tmp_path, database=database) as gw:
        text = await _traffic(gw)
    result = subprocess.run(  # noqa: ASYNC221 - the gateway is stopped by now
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
