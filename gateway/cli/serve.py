"""``gateway serve``: run the gateway (default: the embedded configuration on SQLite)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from gateway.logs import configure_logging
from gateway.options import Options


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
    # shutdown_timeout: in-flight requests get this long to finish; cleanup_ctx then closes
    # the dispatcher, the HTTP session and the store (which flushes pending commits).
    web.run_app(
        create_app(options),
        host=options.host,
        port=options.port,
        shutdown_timeout=10,
        access_log=None,
        print=None,
    )
    return 0


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
