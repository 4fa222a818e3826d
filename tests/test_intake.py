"""One way in: a department's message over HTTP and the hosted case service's own messages
are accepted, counted, woken and observed by the same intake, once each."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.acceptance import Accepted
from gateway.api.appkeys import NOTIFIER
from gateway.clock import ManualClock
from gateway.delivery import Notifier
from gateway.intake import Intake
from gateway.messages import build_event, sign_message
from gateway.metrics import Metrics
from gateway.problems import GatewayError
from gateway.testing import GatewayHandle, running_gateway
from tests.cases.conftest import doc_type, example

START = datetime(2026, 7, 24, 1, 0, tzinfo=UTC)
ZLB = "330784.zlb"
SERVICE = "330784.onething"
HOUSEHOLD = "330784.police.household"  # pulls; the case service asks it for the ID record


def _total(metrics: Metrics, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for metric in metrics.registry.collect()
        for sample in metric.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def _form(gw: GatewayHandle, event_id: str) -> bytes:
    payload = build_event(
        source=ZLB,
        type=doc_type("application_form"),
        data=example("application_form", "workplace_press"),
        id=event_id,
        time=gw.clock.now(),
    )
    return sign_message(payload, gw.key(ZLB))


async def test_the_case_services_messages_take_the_same_way_in(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(
        tmp_path, clock=ManualClock(START), database=database, run_dispatcher=False
    ) as gw:
        stream = gw.app[NOTIFIER].subscribe(HOUSEHOLD)
        body = _form(gw, "form-1")
        await gw.client(ZLB).submit_signed(body)
        requests = _total(gw.metrics, "zjx_messages_accepted_total", source=SERVICE)
        assert requests >= 1  # material requests, accepted through the intake
        assert stream.is_set()  # ... which woke the pull recipient's live stream
        received = _total(gw.metrics, "zjx_messages_received_total")
        assert received == _total(gw.metrics, "zjx_messages_accepted_total") == 1 + requests
        assert gw.cases is not None
        (opened,) = await gw.cases.open_views(10)
        steps = len(opened.state.steps)

        await gw.client(ZLB).submit_signed(body)  # the same message again
        assert _total(gw.metrics, "zjx_messages_duplicate_total", source=ZLB) == 1
        assert _total(gw.metrics, "zjx_messages_accepted_total", source=SERVICE) == requests
        (again,) = await gw.cases.open_views(10)
        assert len(again.state.steps) == steps  # observed once, not twice


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def observe(self, accepted: Accepted) -> None:
        self.seen.append(accepted.record.event_id)


async def test_new_messages_are_observed_once_and_refusals_counted(tmp_path: Path) -> None:
    async with running_gateway(tmp_path, run_dispatcher=False) as gw:
        metrics, recorder = Metrics(), Recorder()
        intake = Intake(gw.intake.acceptor, metrics, Notifier()).observed_by(recorder)
        body = _form(gw, "form-2")
        first, second = await intake.accept(body), await intake.accept(body)
        assert (first.created, second.created) == (True, False)
        assert first.record.receipt == second.record.receipt
        with pytest.raises(GatewayError) as refused:
            await intake.accept(b"{}")
        assert recorder.seen == ["form-2"]
        assert _total(metrics, "zjx_messages_received_total") == 3
        assert _total(metrics, "zjx_messages_accepted_total") == 1
        assert _total(metrics, "zjx_messages_duplicate_total") == 1
        assert _total(metrics, "zjx_messages_rejected_total", reason=refused.value.slug) == 1
