"""Argument parsing and dispatch. Errors the gateway raises on purpose print one line
(``error: ...``) and exit 2; never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway.cli import admin, audit, demo, documents, keys, serve
from gateway.problems import GatewayError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="zj-exchange inter-agency exchange gateway"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(commands)
    keys.register(commands)
    documents.register(commands)
    audit.register(commands)
    demo.register(commands)
    admin.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        return result
    except GatewayError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
