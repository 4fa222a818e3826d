"""``gateway serve``: run the gateway (default: the embedded configuration on SQLite)."""

from __future__ import annotations

import argparse
import asyncio
import functools
import signal
import socket
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from gateway.cli import instances
from gateway.logs import configure_logging
from gateway.options import Options
from gateway.problems import ConfigError

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
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port with SO_REUSEPORT (above 1: PostgreSQL only)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """One gateway in this process, or ``--workers`` of them under a supervisor
    (``gateway.cli.instances``). Configuration errors are raised here, before any worker
    starts; the development keys are made here once, not raced by the workers."""
    settings = {
        "config_dir": args.config,
        "data_dir": args.data_dir,
        "database": args.database,
        "host": args.host,
        "port": args.port,
    }
    if args.workers == 1:
        serve_one(settings)
        return 0
    from gateway.assembly import build_context, load_static
    from gateway.storage.factory import open_store

    options = Options(**settings)
    store = open_store(options.database or options.data_dir / "gateway.sqlite3", options.clock)
    instances.check_shareable(store.capabilities, args.workers)
    config, schemas, gateway_key = load_static(options)
    build_context(config, schemas, options.data_dir, gateway_key)
    worker = functools.partial(serve_one, settings, reuse_port=True)
    return instances.supervise(worker, args.workers)


def serve_one(settings: dict[str, Any], *, reuse_port: bool = False) -> None:
    """Run one gateway until SIGTERM/SIGINT. ``Options`` is made here, in the process that
    serves, so each worker has its own instance id (its delivery claims and notifications)."""
    from gateway.api import create_app  # imported late: `gateway --help` stays fast

    configure_logging(buffered=True)
    options = Options(**settings)
    _install_uvloop()
    structlog.get_logger("gateway.serve").info(
        "gateway.starting",
        host=options.host,
        port=options.port,
        config=str(options.config_dir),
        data_dir=str(options.data_dir),
        database="postgresql" if options.database else "sqlite",
    )
    asyncio.run(serve(create_app(options), options.host, options.port, reuse_port=reuse_port))


async def serve(app: web.Application, host: str, port: int, *, reuse_port: bool = False) -> None:
    """Serve ``app`` until SIGINT or SIGTERM; say where it listens once the socket is bound
    (with ``--port 0`` the port the system chose); SIGHUP re-reads the configuration.
    Connections are ``GatewayRequestHandler``s (problems for unparsable HTTP, read timeouts,
    connections per peer). ``reuse_port``: several workers share the port (SO_REUSEPORT).
    On a signal: stop
    listening, give requests in flight ``SHUTDOWN_SECONDS`` to finish, then cleanup_ctx
    closes the dispatcher, the HTTP session and the store (which flushes pending commits)."""
    from gateway.api.appkeys import TRANSPORT
    from gateway.api.transport import GatewaySite, count_refusals

    _check_free(host, port, reuse_port=reuse_port)
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
        reuse_port=reuse_port or None,
    )
    try:
        await _listen(site, host, port)
        _reload_on_sighup(app)
        for url in _urls(runner.addresses):
            structlog.get_logger("gateway.serve").info("gateway.listening", url=url)
            print(f"zj-exchange gateway listening on {url}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def _check_free(host: str, port: int, *, reuse_port: bool) -> None:
    """Bind and release ``host:port`` before the application starts (its store, workers and
    threads), so a taken address stops nothing half-started: ``address already in use``
    (another gateway, or a second ``make run``) is a ``ConfigError``, one line, exit 2."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in infos:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                probe.bind(address)
    except OSError as exc:
        raise _unbindable(host, port, exc) from exc


async def _listen(site: web.BaseSite, host: str, port: int) -> None:
    """Bind the socket; the address taken since ``_check_free`` is the same one line."""
    try:
        await site.start()
    except OSError as exc:
        raise _unbindable(host, port, exc) from exc


def _unbindable(host: str, port: int, exc: OSError) -> ConfigError:
    reason = exc.strerror or str(exc)
    return ConfigError(
        f"cannot listen on {host}:{port}: {reason.lower()}; is a gateway already running "
        "there? Stop it, or choose another port with --port or GATEWAY_PORT"
    )


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
