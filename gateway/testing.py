"""Test doubles shipped beside the real thing: a real gateway on loopback, in-process.

``running_gateway`` starts the real app (real HTTP server, real SQLite file in a temporary
directory) with the default configuration, optionally with some departments switched to
push delivery, and hands out clients that sign with each department's development key.
Adapters' tests and the demo use it too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from gateway.api import create_app
from gateway.api.appkeys import (
    CASES,
    CLOCK,
    CURRENT,
    DISPATCHER,
    INTAKE,
    METRICS,
    NOTIFIER,
    STORE,
    TRANSPORT,
)
from gateway.api.transport import GatewaySite, count_refusals
from gateway.assembly import dev_key_path
from gateway.cases import CaseService
from gateway.clock import Clock, SystemClock
from gateway.configuration import Config, DeliverySettings, load_config
from gateway.delivery import Dispatcher, Notifier
from gateway.intake import Intake
from gateway.metrics import Metrics
from gateway.options import Options
from gateway.packaged import default_config_dir
from gateway.storage.base import Store
from gateway.trust import SigningKey

if TYPE_CHECKING:  # adapters build on gateway; import only for typing
    from adapters.link import GatewayClient


def default_config(push: Mapping[str, str] | None = None, config_dir: Path | None = None) -> Config:
    """The default configuration, with ``push`` = {department: endpoint URL} switched to push."""
    config = load_config(config_dir or default_config_dir())
    departments = dict(config.departments)
    for dept, endpoint in (push or {}).items():
        departments[dept] = dataclasses.replace(
            departments[dept],
            delivery=DeliverySettings(mode="push", endpoint=endpoint, timeout_seconds=5.0),
        )
    return dataclasses.replace(config, departments=departments)


@dataclass
class GatewayHandle:
    base_url: str
    app: web.Application
    data_dir: Path
    session: aiohttp.ClientSession

    # the running gateway's services, for tests that look behind the HTTP interface

    @property
    def store(self) -> Store:
        return self.app[STORE]

    @property
    def clock(self) -> Clock:
        return self.app[CLOCK]

    @property
    def metrics(self) -> Metrics:
        return self.app[METRICS]

    @property
    def intake(self) -> Intake:
        return self.app[INTAKE]

    @property
    def cases(self) -> CaseService | None:
        return self.app[CASES]

    @property
    def notifier(self) -> Notifier:
        return self.app[NOTIFIER]

    @property
    def dispatcher(self) -> Dispatcher:
        return self.app[DISPATCHER]

    @property
    def config(self) -> Config:
        return self.app[CURRENT].config

    @property
    def gateway_id(self) -> str:
        return self.config.gateway.id

    def key(self, department: str) -> SigningKey:
        return SigningKey.load(dev_key_path(self.data_dir, department))

    def client(self, department: str) -> GatewayClient:
        from adapters.link import GatewayClient

        return GatewayClient(
            self.base_url,
            department,
            self.key(department),
            self.gateway_id,
            self.session,
            attempts=2,
            backoff=0.01,
            clock=self.clock,
        )


@asynccontextmanager
async def running_gateway(
    data_dir: Path,
    *,
    config: Config | None = None,
    clock: Clock | None = None,
    run_dispatcher: bool = True,
    poll_interval: float = 0.2,
    database: str | None = None,
) -> AsyncIterator[GatewayHandle]:
    options = Options(
        data_dir=data_dir,
        config=config or default_config(),
        clock=clock or SystemClock(),
        run_dispatcher=run_dispatcher,
        poll_interval=poll_interval,
        database=database,
        host="127.0.0.1",
        port=0,
    )
    app = create_app(options)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = GatewaySite(runner, "127.0.0.1", 0, limits=app[TRANSPORT], refused=count_refusals(app))
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        try:
            yield GatewayHandle(f"http://127.0.0.1:{port}", app, data_dir, session)
        finally:
            await runner.cleanup()
