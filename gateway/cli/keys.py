"""``gateway keys generate``: a department's (or the gateway's) signing key pair;
``gateway keys token``: a short-lived single-use API token signed with a department's key;
``gateway keys at-rest generate|rotate|retire``: the SM4 key ring for encryption at rest."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import orjson

from gateway.clock import SystemClock
from gateway.configuration.loader import DEPARTMENT_ID, KEY_NAME
from gateway.encryption import FileKeyRing
from gateway.options import Options
from gateway.problems import ConfigError
from gateway.storage.factory import open_store
from gateway.trust import ALGORITHMS, SigningKey, issue_token

DEFAULT_KEY_DIR = Path("data/keys")


def register(commands: Any) -> None:
    keys: argparse.ArgumentParser = commands.add_parser("keys", help="manage signing keys")
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    generate = sub.add_parser(
        "generate",
        help="generate a key pair for a department",
        description="Write the private key (JWK, mode 0600) and the public key into a "
        "directory, and print how to register the public key through the admin API. The "
        "private key never leaves the department.",
    )
    generate.add_argument("department", help="department id, e.g. 330784.health.h001")
    generate.add_argument("--name", default="k1", help="key name; the kid is DEPARTMENT/NAME")
    generate.add_argument("--alg", choices=ALGORITHMS, default="Ed25519")
    generate.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_KEY_DIR,
        help="directory for DEPT.NAME.jwk (private, 0600) and DEPT.NAME.public.jwk "
        f"(default: {DEFAULT_KEY_DIR}/, git-ignored in a checkout)",
    )
    generate.add_argument("--out", type=Path, help="private key file instead (overrides --dir)")
    generate.set_defaults(handler=generate_key)
    token = sub.add_parser(
        "token",
        help="print a department API token (for curl)",
        description="Sign a short-lived, single-use token with the department's private key, "
        "for the department API (GET /v1/inbox, /v1/messages/{id}, /v1/cases/{id}).",
    )
    token.add_argument("key", type=Path, help="the department's private JWK file")
    token.add_argument("--gateway-id", default="330000.exchange", help="the token's audience")
    token.set_defaults(handler=print_token)
    _register_at_rest(sub)


def _register_at_rest(sub: Any) -> None:
    at_rest: argparse.ArgumentParser = sub.add_parser(
        "at-rest",
        help="the SM4 key ring for [crypto] at_rest (generate, rotate, retire)",
        description="Rotation: `rotate` adds a key and makes it active; the running gateway "
        "re-encrypts older records in the background; `retire` drops the old key after.",
    )
    at_rest.add_argument("action", choices=("generate", "rotate", "retire"))
    at_rest.add_argument("file", type=Path, help="the key ring file ([crypto] key_file)")
    at_rest.add_argument("--id", required=True, help="the key id to create, add or retire")
    defaults = Options()
    at_rest.add_argument(
        "--data-dir", type=Path, default=defaults.data_dir, help="retire: the gateway's store"
    )
    at_rest.add_argument(
        "--database", default=defaults.database, help="retire: postgresql://... instead"
    )
    at_rest.set_defaults(handler=at_rest_keys)


def generate_key(args: argparse.Namespace) -> int:
    """Write the pair and print the registration hint; a key file never overwrites another."""
    if not DEPARTMENT_ID.fullmatch(args.department):
        raise ConfigError(f"{args.department!r} is not a department id such as 330784.zlb")
    if not KEY_NAME.fullmatch(args.name):
        raise ConfigError(f"{args.name!r} is not a key name (letters, digits, . _ -)")
    kid = f"{args.department}/{args.name}"
    stem = f"{args.department}.{args.name}"
    out: Path = args.out or args.dir / f"{stem}.jwk"
    public_out = out.with_name(f"{stem}.public.jwk")
    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = SigningKey.generate(kid, args.alg)
    try:
        key.save(out)
    except FileExistsError:
        raise ConfigError(f"{out} exists already; choose another --name or --dir") from None
    public = {k: v for k, v in key.public_jwk().items() if k != "kid"}
    public_out.write_bytes(orjson.dumps(public, option=orjson.OPT_INDENT_2) + b"\n")
    _print_hint(args.department, args.name, out, public_out, public)
    return 0


def _print_hint(
    department: str, name: str, private: Path, public_file: Path, public: dict[str, Any]
) -> None:
    body = orjson.dumps({"name": name, "jwk": public}).decode()
    print(f"# private key: {private} (mode 0600); it stays at the department")
    print(f"# public key:  {public_file}")
    print("# register the public key through the admin API (in force at once, no restart):")
    print(f"gateway admin keys add {department} --name {name} --jwk {public_file}")
    print("# the same with curl:")
    print(
        f'curl -X POST -H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN" '
        f"-H 'content-type: application/json' --data '{body}' "
        f"$GATEWAY_URL/admin/v1/departments/{department}/keys"
    )
    print("# a department the gateway does not know yet: gateway admin departments add first")


def print_token(args: argparse.Namespace) -> int:
    key = SigningKey.load(args.key)
    print(issue_token(key, args.gateway_id, clock=SystemClock()))
    return 0


def at_rest_keys(args: argparse.Namespace) -> int:
    if args.action == "generate":
        try:
            ring = FileKeyRing.generate(args.file, args.id)
        except FileExistsError:
            raise ConfigError(f"{args.file}: exists already; use rotate") from None
    elif args.action == "rotate":
        ring = FileKeyRing(args.file).rotate(args.id)
    else:
        ring = FileKeyRing(args.file)
        still = 0 if args.id == ring.active()[0] else asyncio.run(_records_under(args, args.id))
        if still:
            raise ConfigError(
                f"{still} stored records are still sealed under {args.id!r}: retiring it now "
                "would make them unreadable for good; wait for the gateway's re-sealing pass "
                "(at_rest.resealed in its log) and retire again"
            )
        ring = ring.retire(args.id)
    print(f"{args.file}: active key {ring.active()[0]}; keys {', '.join(ring.ids())}")
    return 0


async def _records_under(args: argparse.Namespace, key_id: str) -> int:
    """How many records in the gateway's store (``--data-dir`` or ``--database``) are sealed
    under ``key_id``; ``ConfigError`` when there is no store there to look in."""
    sqlite_file = args.data_dir / "gateway.sqlite3"
    if args.database is None and not sqlite_file.exists():
        raise ConfigError(
            f"{sqlite_file}: no gateway store here; retire looks in the store first "
            "(--data-dir or --database)"
        )
    store = open_store(args.database or sqlite_file, SystemClock())
    await store.open()
    try:
        return (await store.sealed_under()).get(key_id, 0)
    finally:
        await store.close()
