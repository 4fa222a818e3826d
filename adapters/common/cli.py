"""The command line every family shares:

    python -m adapters.<family> send FILE... --gateway URL --key KEYFILE [--as DEPT]
    python -m adapters.<family> serve --port P --key KEYFILE --gateway URL [--out DIR]

``send`` parses every file first, reports every refused record (file, place, field, why;
never a value) on stderr, and sends the good ones; exit status 0 when everything was sent
(or had been sent before), 1 when some record was refused, 2 on a usage error. ``serve``
receives pushed messages with ``adapters.link.Receiver`` (both signatures verified with the
gateway's JWKS) and writes each document in the family's receiving shape to stdout or, with
``--out``, to one file per message in that directory.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from adapters.common.errors import AdapterError
from adapters.common.records import Parsed
from adapters.common.send import send_parsed
from adapters.link import Delivered, GatewayClient, Receiver
from gateway.configuration import load_config
from gateway.messages import CloudEvent
from gateway.packaged import default_config_dir
from gateway.problems import GatewayError
from gateway.trust import SigningKey

ParseFile = Callable[[Path], Parsed]
#: a received event -> (file extension, bytes in the department system's shape)
ToNative = Callable[[CloudEvent], tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    parse_file: ParseFile
    to_native: ToNative


def parse_files(family: Family, files: Sequence[Path]) -> Parsed:
    parsed = Parsed()
    for path in files:
        try:
            parsed.extend(family.parse_file(path))
        except AdapterError as exc:
            parsed.errors.append(exc)
        except OSError as exc:
            parsed.errors.append(
                AdapterError.one(str(path), "file", "(file)", f"cannot read: {exc.strerror}")
            )
    return parsed


def _department(key: SigningKey, explicit: str | None) -> str:
    return explicit or key.kid.split("/", 1)[0]


async def _send(args: argparse.Namespace, family: Family) -> int:
    key = SigningKey.load(args.key)
    parsed = parse_files(family, [Path(f) for f in args.files])
    # refusals found locally are reported before anything goes over the network
    for error in parsed.errors:
        for problem in error.problems:
            print(f"refused: {problem}", file=sys.stderr)
    async with aiohttp.ClientSession() as session:
        client = GatewayClient(
            args.gateway, _department(key, args.as_dept), key, args.gateway_id, session
        )
        report = await send_parsed(client, Parsed(records=parsed.records), case_id=args.case)
    for line in report.refused:
        print(f"refused: {line}", file=sys.stderr)
    refused = len(report.refused) + sum(len(e.problems) for e in parsed.errors)
    print(
        f"{family.name}: {len(report.sent)} sent, {len(report.already)} already sent, "
        f"{refused} refused",
        file=sys.stderr,
    )
    for event_id in report.sent:
        print(event_id)
    return 0 if refused == 0 else 1


def _output_dir(value: str | None) -> Path | None:
    if value is None:
        return None
    out = Path(value)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write(out: Path | None, name: str, native: bytes) -> None:
    """One file per message (written whole, then renamed), or one document per line."""
    if out is None:
        sys.stdout.buffer.write(native + b"\n")
        sys.stdout.flush()
        return
    partial = out / f".{name}.part"
    partial.write_bytes(native)
    partial.replace(out / name)


async def _serve(args: argparse.Namespace, family: Family) -> int:
    key = SigningKey.load(args.key)
    out = _output_dir(args.out)

    async def on_delivery(delivered: Delivered) -> None:
        ext, native = family.to_native(delivered.verified.event)
        name = f"{delivered.verified.seq:08d}-{delivered.verified.event.id}.{ext}"
        _write(out, name, native)

    async with aiohttp.ClientSession() as session:
        receiver = Receiver(
            _department(key, args.as_dept),
            key,
            f"{args.gateway.rstrip('/')}/.well-known/jwks.json",
            session,
            on_delivery,
            args.gateway_id,
        )
        runner = web.AppRunner(receiver.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, args.host, args.port).start()
        print(
            f"{family.name}: receiving on http://{args.host}:{args.port}/inbound", file=sys.stderr
        )
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
    return 0


def default_gateway_id() -> str:
    """The gateway id of the configuration ``GATEWAY_CONFIG`` names, else of the default
    configuration shipped with the gateway."""
    return load_config(default_config_dir()).gateway.id


def main(family: Family, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m adapters.{family.name}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("send", "serve"):
        p = sub.add_parser(name)
        p.add_argument("--gateway", required=True, help="gateway base URL")
        p.add_argument("--key", required=True, help="the department's private JWK file")
        p.add_argument("--as", dest="as_dept", help="department id (default: from the key id)")
        p.add_argument(
            "--gateway-id",
            default=None,
            help="the gateway's id (default: gateway.toml of GATEWAY_CONFIG or the default "
            "configuration)",
        )
        if name == "send":
            p.add_argument("files", nargs="+", metavar="FILE")
            p.add_argument(
                "--case", help="send under this case id (answering the case's material request)"
            )
        else:
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--host", default="127.0.0.1")
            p.add_argument("--out", help="directory for received documents (default: stdout)")
    args = parser.parse_args(argv)
    runner = _send if args.command == "send" else _serve
    try:
        args.gateway_id = args.gateway_id or default_gateway_id()
        return asyncio.run(runner(args, family))
    except KeyboardInterrupt:
        return 0
    except (GatewayError, OSError, aiohttp.ClientError) as exc:
        # a key file that cannot be read, a gateway that cannot be reached
        print(f"{family.name}: error: {exc}", file=sys.stderr)
        return 2
