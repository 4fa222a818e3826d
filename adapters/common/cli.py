"""The command line every family shares:

    python -m adapters.<family> send FILE... --gateway URL --key KEYFILE [--as DEPT]
    python -m adapters.<family> serve --port P --key KEYFILE --gateway URL [--out DIR]

``send`` parses every file first and sends the good records; it prints each record's outcome
as it happens (``sent: FILE: PLACE -> EVENT-ID``, ``already sent: ...`` on stdout;
``refused: FILE: PLACE: field FIELD: why``, never a value, on stderr), progress on stderr for
batches of more than ``PROGRESS_ABOVE`` records, and a summary line. Exit status 0 when
everything was sent (or had been sent before), 1 when some record was refused, 2 on a usage
error or when the gateway cannot be reached. ``--institution USCC`` (and
``--institution-name``, or ``ZJX_INSTITUTION`` / ``ZJX_INSTITUTION_NAME``) names the
institution the adapter runs beside, for native messages that identify it only by a local id.

A fault in one file is that file's refusal: no native file, however malformed, ends the run
(an unexpected exception is reported as the file's refusal by class name, never with its
message, which could quote a value). ``serve``
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
from adapters.common.send import REFUSED, Outcome, send_parsed
from adapters.common.settings import Institution, SettingsError, institution_from
from adapters.link import Delivered, GatewayClient, Receiver
from gateway.configuration import load_config
from gateway.messages import CloudEvent
from gateway.packaged import default_config_dir
from gateway.problems import GatewayError
from gateway.trust import SigningKey

PROGRESS_ABOVE = 300
PROGRESS_EVERY = 100

ParseFile = Callable[[Path], Parsed]
#: a parser that also takes the configured institution
ParseConfigured = Callable[[Path, Institution | None], Parsed]
#: a received event -> (file extension, bytes in the department system's shape)
ToNative = Callable[[CloudEvent], tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    parse_file: ParseFile
    to_native: ToNative
    parse_configured: ParseConfigured | None = None

    def parse(self, path: Path, institution: Institution | None = None) -> Parsed:
        if self.parse_configured is not None:
            return self.parse_configured(path, institution)
        return self.parse_file(path)


def parse_files(
    family: Family, files: Sequence[Path], institution: Institution | None = None
) -> Parsed:
    """Every file parsed; a file's fault of any kind is that file's refusal, never the run's."""
    parsed = Parsed()
    for path in files:
        try:
            parsed.extend(family.parse(path, institution))
        except AdapterError as exc:
            parsed.errors.append(exc)
        except OSError as exc:
            parsed.errors.append(
                AdapterError.one(str(path), "file", "(file)", f"cannot read: {exc.strerror}")
            )
        except Exception as exc:  # a reader's bug must not cost the other files; no message
            reason = f"could not be read ({exc.__class__.__name__})"
            parsed.errors.append(AdapterError.one(str(path), "file", "(document)", reason))
    return parsed


class OutcomePrinter:
    """Prints each outcome as it happens, and progress on long batches."""

    def __init__(self, family: str, total: int) -> None:
        self.family = family
        self.total = total
        self.done = 0

    def __call__(self, outcome: Outcome) -> None:
        self.done += 1
        if outcome.status == REFUSED:
            print(outcome, file=sys.stderr)
        else:
            print(outcome, flush=True)
        if self.total > PROGRESS_ABOVE and (
            self.done % PROGRESS_EVERY == 0 or self.done == self.total
        ):
            print(f"{self.family}: {self.done}/{self.total} records", file=sys.stderr)


def _department(key: SigningKey, explicit: str | None) -> str:
    return explicit or key.kid.split("/", 1)[0]


async def _send(args: argparse.Namespace, family: Family) -> int:
    key = SigningKey.load(args.key)
    institution = institution_from(args.institution, args.institution_name)
    parsed = parse_files(family, [Path(f) for f in args.files], institution)
    total = len(parsed.records) + sum(len(e.problems) for e in parsed.errors)
    async with aiohttp.ClientSession() as session:
        client = GatewayClient(
            args.gateway, _department(key, args.as_dept), key, args.gateway_id, session
        )
        report = await send_parsed(
            client, parsed, case_id=args.case, on_outcome=OutcomePrinter(family.name, total)
        )
    print(
        f"{family.name}: {len(report.sent)} sent, {len(report.already)} already sent, "
        f"{len(report.refused)} refused",
        file=sys.stderr,
    )
    return 0 if report.ok else 1


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
    # the same configuration serves both commands; a bad credit code stops serve at start too
    institution_from(args.institution, args.institution_name)
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
        p.add_argument("--institution", help="credit code (USCC) of the institution served")
        p.add_argument("--institution-name", help="its name, when native messages lack it")
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
    except SettingsError as exc:
        print(f"{family.name}: error: {exc}", file=sys.stderr)
        return 2
    except (GatewayError, OSError, aiohttp.ClientError) as exc:
        # a key file that cannot be read, a gateway that cannot be reached
        print(f"{family.name}: error: {exc}", file=sys.stderr)
        return 2
