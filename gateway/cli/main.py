"""Argument parsing and dispatch. Errors the gateway raises on purpose print one line
(``error: ...``) and exit 2; never a traceback.

Each command's module is imported only when that command runs (or for ``--help``, which lists
them all): ``gateway admin`` and ``gateway keys`` start in a fraction of the time the store,
the case layer and the validators take to import, which scripts calling them in a loop feel.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway.problems import GatewayError

# command -> the module (under gateway.cli) that registers it, in the order --help lists them
MODULES = {
    "serve": "serve",
    "keys": "keys",
    "validate": "documents",
    "sign": "documents",
    "verify": "documents",
    "audit": "audit",
    "demo": "demo",
    "admin": "admin",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with ``command``'s module registered, or every module's when None."""
    parser = argparse.ArgumentParser(
        prog="gateway", description="zj-exchange inter-agency exchange gateway"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = [MODULES[command]] if command in MODULES else list(dict.fromkeys(MODULES.values()))
    for name in dict.fromkeys(wanted):
        importlib.import_module(f"gateway.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(given[0] if given else None)
    args = parser.parse_args(given)
    try:
        result: int = args.handler(args)
        return result
    except GatewayError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
