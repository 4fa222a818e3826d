"""A recipient that is down gets retries on schedule, then a dead letter, then a replay that
delivers. Driven by a manual clock and ``Dispatcher.run_once``: no sleeps."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import aiohttp

from gateway.clock import ManualClock
from gateway.configuration.model import BreakerPolicy, RetryPolicy
from gateway.testing import default_config, running_gateway
from tests.exchange.conftest import DIAGNOSIS, FlakyEndpoint, example, serve

HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"


def _admin_token(data_dir: Path) -> str:
    return (data_dir / "admin-token").read_text().strip()


async def test_retry_schedule_dead_letter_and_replay(tmp_path: Path, database: str | None) -> None:
    endpoint = FlakyEndpoint()
    clock = ManualClock()
    async with serve(endpoint.app()) as url:
        config = default_config(push={RECOGNITION: f"{url}/inbound"})
        policy = RetryPolicy(
            initial=timedelta(seconds=5),
            multiplier=2,
            cap=timedelta(minutes=10),
            max_age=timedelta(hours=1),
        )
        config = dataclasses.replace(config, retry=policy)
        async with running_gateway(
            tmp_path, config=config, clock=clock, run_dispatcher=False, database=database
        ) as gw:
            dispatcher = gw.dispatcher
            assert dispatcher is not None
            dispatcher.breakers.policy = BreakerPolicy(failures=1000)
            receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
            seq = receipt["sequence"]
            accepted = clock.now()

            attempts = 0
            while True:
                assert await dispatcher.run_once() == 1
                attempts += 1
                deliveries = {d.recipient: d for d in await gw.store.deliveries_for(seq)}
                current = deliveries[RECOGNITION]
                if current.state == "dead":
                    break
                assert current.attempts == attempts
                assert current.next_attempt_at is not None
                waited = current.next_attempt_at - clock.now()
                # full jitter under the exponential ceiling, never below one second
                ceiling = min(timedelta(seconds=5 * 2 ** (attempts - 1)), timedelta(minutes=10))
                assert timedelta(seconds=1) <= waited <= max(ceiling, timedelta(seconds=1))
                # nothing is due before its time
                clock.set(current.next_attempt_at - timedelta(milliseconds=1))
                assert await dispatcher.run_once() == 0
                clock.set(current.next_attempt_at)
            assert endpoint.calls == attempts
            assert clock.now() - accepted <= timedelta(hours=1)
            assert attempts >= 5

            # the dead letter is listed and replayed by an operator
            headers = {"Authorization": f"Bearer {_admin_token(tmp_path)}"}
            async with gw.session.get(
                f"{gw.base_url}/admin/v1/dead-letters", headers=headers
            ) as response:
                listed = (await response.json())["dead_letters"]
            assert [(d["sequence"], d["recipient"]) for d in listed] == [(seq, RECOGNITION)]
            endpoint.up = True
            async with gw.session.post(
                f"{gw.base_url}/admin/v1/dead-letters/{seq}/{RECOGNITION}/replay",
                headers=headers,
            ) as response:
                assert response.status == 200
            assert await dispatcher.run_once() == 1
            deliveries = {d.recipient: d for d in await gw.store.deliveries_for(seq)}
            assert deliveries[RECOGNITION].state == "delivered"
            assert len(endpoint.received) == 1


async def test_gone_endpoint_is_dead_lettered_at_once(tmp_path: Path, database: str | None) -> None:
    endpoint = FlakyEndpoint()
    endpoint.status_when_down = 410
    clock = ManualClock()
    async with serve(endpoint.app()) as url:
        config = default_config(push={RECOGNITION: f"{url}/inbound"})
        async with running_gateway(
            tmp_path, config=config, clock=clock, run_dispatcher=False, database=database
        ) as gw:
            dispatcher = gw.dispatcher
            assert dispatcher is not None
            receipt = await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
            await dispatcher.run_once()
            deliveries = {
                d.recipient: d for d in await gw.store.deliveries_for(receipt["sequence"])
            }
            assert deliveries[RECOGNITION].state == "dead"
            assert RECOGNITION in await gw.store.gone_endpoints()
            seq = receipt["sequence"]
            headers = {"Authorization": f"Bearer {_admin_token(tmp_path)}"}
            url_ = f"{gw.base_url}/admin/v1/dead-letters/{seq}/{RECOGNITION}/discard"
            async with gw.session.post(url_, headers=headers) as response:
                assert response.status == 200
            deliveries = {d.recipient: d for d in await gw.store.deliveries_for(seq)}
            assert deliveries[RECOGNITION].state == "discarded"


async def test_open_breaker_probes_instead_of_hammering(
    tmp_path: Path, database: str | None
) -> None:
    endpoint = FlakyEndpoint()
    clock = ManualClock()
    async with serve(endpoint.app()) as url:
        config = default_config(push={RECOGNITION: f"{url}/inbound"})
        async with running_gateway(
            tmp_path, config=config, clock=clock, run_dispatcher=False, database=database
        ) as gw:
            dispatcher = gw.dispatcher
            assert dispatcher is not None
            client = gw.client(HOSPITAL)
            for index in range(20):
                await client.submit(DIAGNOSIS, example("medical_diagnosis"), event_id=f"b-{index}")
            await dispatcher.run_once()
            # 20 due at once; the breaker (5 failures) stops the rest from being sent
            assert endpoint.calls < 20
            calls = endpoint.calls
            clock.advance(timedelta(seconds=31))
            await dispatcher.run_once()
            assert endpoint.calls - calls <= 1 + 5  # one probe, then at most retries due
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{gw.base_url}/metrics") as response:
                    text = await response.text()
            assert f'zjx_breaker_open{{recipient="{RECOGNITION}"}} 1.0' in text
