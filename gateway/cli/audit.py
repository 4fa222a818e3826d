"""``gateway audit verify|checkpoint|export``: for auditors, offline, on the store.

``verify`` never creates anything: with development keys it refuses when the gateway's dev key
is missing rather than generating a new one (which would make every checkpoint look forged).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from gateway.assembly import EPOCH, dev_key_path, load_gateway_key
from gateway.audit import checkpoints
from gateway.audit.chain import digest_of
from gateway.audit.verify import Row, verify_rows
from gateway.clock import SystemClock
from gateway.configuration import load_config
from gateway.options import Options
from gateway.problems import ConfigError
from gateway.storage.factory import open_store
from gateway.trust import KeyRecord, SigningKey

PAGE = 1000


def register(commands: Any) -> None:
    audit: argparse.ArgumentParser = commands.add_parser("audit", help="audit chain tools")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    defaults = Options()
    for name, handler, text in (
        ("verify", verify, "prove the chain intact or name the first broken entry"),
        ("export", export, "write the chain as JSON lines for an auditor"),
        ("checkpoint", checkpoint, "sign the chain head with the gateway key"),
    ):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("--data-dir", type=Path, default=defaults.data_dir)
        parser.add_argument(
            "--database",
            default=defaults.database,
            help="postgresql://... instead of the SQLite file",
        )
        parser.add_argument("--config", type=Path, default=defaults.config_dir)
        parser.set_defaults(handler=handler)
        if name == "export":
            parser.add_argument("--since", type=int, default=0, help="entries after this seq")
            parser.add_argument("--out", type=Path, help="file (default: standard output)")


async def _rows(args: argparse.Namespace, after: int = 0) -> AsyncIterator[Row]:
    sqlite_file = args.data_dir / "gateway.sqlite3"
    if args.database is None and not sqlite_file.exists():
        raise ConfigError(f"{sqlite_file}: no gateway store here")
    store = open_store(args.database or sqlite_file, SystemClock())
    await store.open()
    try:
        while True:
            page = await store.audit_rows(after, PAGE)
            for row in page:
                yield row
            if len(page) < PAGE:
                return
            after = page[-1][0]
    finally:
        await store.close()


def verify(args: argparse.Namespace) -> int:
    async def collect() -> list[Row]:
        return [row async for row in _rows(args)]

    rows = asyncio.run(collect())
    verdict = verify_rows(rows)
    if not verdict.intact:
        print(
            f"BROKEN at entry {verdict.broken_seq}: {verdict.reason}: {verdict.detail} "
            f"({verdict.entries} entries before it verify)"
        )
        return 1
    hashes = {seq: digest for seq, _, _, digest in rows}
    try:
        signed = checkpoints.load(args.data_dir)
    except ValueError as exc:
        print(f"BROKEN: {exc}")
        return 1
    broken = (
        checkpoints.first_mismatch(signed, hashes, verdict.entries, _gateway_record(args))
        if signed
        else None
    )
    if broken is not None:
        print(f"BROKEN: {broken}")
        return 1
    print(
        f"intact: {verdict.entries} entries, head {verdict.head}, {len(signed)} signed "
        f"checkpoints, digest {verdict.digest or 'none (empty chain)'}"
    )
    return 0


def _gateway_key(args: argparse.Namespace, create: bool = False) -> SigningKey:
    config = load_config(args.config)
    if config.gateway.key_file is None and not create:
        path = dev_key_path(args.data_dir, "gateway")
        if not path.exists():
            raise ConfigError(f"{path}: no gateway key here (gateway.key_file is not set)")
    return load_gateway_key(config, args.data_dir)


def _gateway_record(args: argparse.Namespace) -> KeyRecord:
    key = _gateway_key(args)
    return KeyRecord(key.kid, key.owner, key.public_jwk(), EPOCH)


def checkpoint(args: argparse.Namespace) -> int:
    async def collect() -> list[Row]:
        return [row async for row in _rows(args)]

    rows = asyncio.run(collect())
    verdict = verify_rows(rows)
    if not verdict.intact or not rows:
        print("refused: the chain is empty or broken; run `gateway audit verify`")
        return 1
    point = checkpoints.sign_checkpoint(
        rows[-1][0], verdict.head, SystemClock().now(), _gateway_key(args, create=True)
    )
    checkpoints.append(args.data_dir, point)
    print(f"checkpoint: entry {point.seq}, hash {point.hash}, signed {point.at}")
    return 0


def _digest_or_none(chain_hash: str) -> str | None:
    """The digest a stored hash names; None when it is no chain hash (changed on disk)."""
    try:
        return digest_of(chain_hash)
    except ValueError:
        return None


def export(args: argparse.Namespace) -> int:
    """JSON lines: every entry after ``--since`` (``kind: entry``, decoded from its stored bytes,
    with prev_hash and hash), then every checkpoint (``kind: checkpoint``) and last the gateway's
    public JWK (``kind: gateway_key``), so an auditor can check everything without the gateway."""

    public_jwk = _gateway_key(args).public_jwk()  # before anything is written

    async def write(out: Any) -> None:
        async for seq, entry, prev_hash, digest in _rows(args, args.since):
            line: dict[str, Any] = {"kind": "entry", "seq": seq}
            try:
                line["entry"] = orjson.loads(entry)
            except orjson.JSONDecodeError:
                line["entry"] = None
            line["entry_bytes"] = base64.b64encode(entry).decode("ascii")
            line["prev_hash"] = prev_hash
            line["hash"] = digest
            line["digest"] = _digest_or_none(prev_hash)
            out.write(orjson.dumps(line) + b"\n")
        for point in checkpoints.load(args.data_dir):
            out.write(
                orjson.dumps(
                    {
                        "kind": "checkpoint",
                        "seq": point.seq,
                        "hash": point.hash,
                        "at": point.at,
                        "token": point.token,
                    }
                )
                + b"\n"
            )
        out.write(orjson.dumps({"kind": "gateway_key", "jwk": public_jwk}) + b"\n")

    if args.out is None:
        asyncio.run(write(sys.stdout.buffer))
    else:
        with args.out.open("wb") as handle:
            asyncio.run(write(handle))
    return 0
