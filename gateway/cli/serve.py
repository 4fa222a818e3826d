"""``gateway serve``: run the gateway (default: the embedded configuration on SQLite)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from gateway.logs import configure_logging
from gateway.options import Options

SHUTDOWN_SECONDS = 10.0


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve", help="run the gateway", description="Run the gateway HTTP service."
    )
    defaults = Options()
    parser.add_argument(
        "--config",
        type=Path,
        default=defaults.config_dir,
        help="configuration directory (GATEWAY_CONFIG)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=defaults.data_dir,
        help="data directory: SQLite file, development keys (GATEWAY_DATA_DIR)",
    )
    parser.add_argument(
        "--database",
        default=defaults.database,
        help="postgresql://... to use PostgreSQL (GATEWAY_DATABASE)",
    )
    parser.add_argument("--host", default=defaults.host, help="listen address (GATEWAY_HOST)")
    parser.add_argument("--port", type=int, default=defaults.port, help="port (GATEWAY_PORT)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gateway.api import create_app  # imported late: `gateway --help` stays fast

    configure_logging()
    options = Options(
        config_dir=args.config,
        data_dir=args.data_dir,
        database=args.database,
        host=args.host,
        port=args.port,
    )
    _install_uvloop()
    structlog.get_logger("gateway.serve").info(
        "gateway.starting",
        host=options.host,
        port=options.port,
        config=str(options.config_dir),
        data_dir=str(options.data_dir),
        database="postgresql" if options.database else "sqlite",
    )
    asyncio.run(serve(create_app(options), options.host, options.port))
    return 0


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve ``app`` until SIGINT or SIGTERM; say where it listens once the socket is bound
    (with ``--port 0`` the port the system chose); SIGHUP re-reads the configuration.
    Connections are ``GatewayRequestHandler``s (problems for unparsable HTTP, read timeouts,
    connections per peer). On a signal: stop
    listening, give requests in flight ``SHUTDOWN_SECONDS`` to finish, then cleanup_ctx
    closes the dispatcher, the HTTP session and the store (which flushes pending commits)."""
    from gateway.api.appkeys import TRANSPORT
    from gateway.api.transport import GatewaySite, count_refusals

    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    site = GatewaySite(
        runner,
        host,
        port,
        limits=app[TRANSPORT],
        refused=count_refusals(app),
    )
    try:
        await site.start()
        _reload_on_sighup(app)
        for url in _urls(runner.addresses):
            structlog.get_logger("gateway.serve").info("gateway.listening", url=url)
            print(f"zj-exchange gateway listening on {url}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def _reload_on_sighup(app: web.Application) -> None:
    """SIGHUP: the same reload as ``POST /admin/v1/reload`` (its outcome is logged: either
    ``config.reloaded`` or ``config.reload_refused`` with every error). One at a time: a
    signal during a reload is taken after it."""
    from gateway.api.maintenance import reload_configuration

    lock = asyncio.Lock()
    pending: set[asyncio.Task[Any]] = set()

    async def reload() -> None:
        async with lock:
            try:
                await reload_configuration(app, "signal:SIGHUP")
            except Exception:  # the store away while auditing it: logged, the gateway runs on
                structlog.get_logger("gateway.config").exception("config.reload_failed")

    def on_signal() -> None:
        task = asyncio.get_running_loop().create_task(reload(), name="reload")
        pending.add(task)
        task.add_done_callback(pending.discard)

    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_signal)


def _urls(addresses: list[Any]) -> list[str]:
    urls = []
    for address in addresses:
        host, port = address[0], address[1]
        urls.append(f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}")
    return urls


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
