"""``gateway keys generate``: a department's (or the gateway's) signing key pair;
``gateway keys token``: a short-lived single-use API token signed with a department's key;
``gateway keys at-rest generate|rotate|retire``: the SM4 key ring for encryption at rest."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from gateway.clock import SystemClock
from gateway.configuration.loader import DEPARTMENT_ID, KEY_NAME
from gateway.encryption import FileKeyRing
from gateway.problems import ConfigError
from gateway.trust import ALGORITHMS, SigningKey, issue_token


def register(commands: Any) -> None:
    keys: argparse.ArgumentParser = commands.add_parser("keys", help="manage signing keys")
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    generate = sub.add_parser(
        "generate",
        help="generate a key pair for a department",
        description="Write the private key (JWK, mode 0600) and print the public JWK to paste "
        "into departments.toml. The private key never leaves the department.",
    )
    generate.add_argument("department", help="department id, e.g. 330784.health.h001")
    generate.add_argument("--name", default="k1", help="key name; the kid is DEPARTMENT/NAME")
    generate.add_argument("--alg", choices=ALGORITHMS, default="Ed25519")
    generate.add_argument("--out", type=Path, help="private key file (default: DEPT.NAME.jwk)")
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
    at_rest.set_defaults(handler=at_rest_keys)


def generate_key(args: argparse.Namespace) -> int:
    if not DEPARTMENT_ID.fullmatch(args.department):
        raise ConfigError(f"{args.department!r} is not a department id such as 330784.zlb")
    if not KEY_NAME.fullmatch(args.name):
        raise ConfigError(f"{args.name!r} is not a key name (letters, digits, . _ -)")
    kid = f"{args.department}/{args.name}"
    out: Path = args.out or Path(f"{args.department}.{args.name}.jwk")
    key = SigningKey.generate(kid, args.alg)
    key.save(out)
    public = {k: v for k, v in key.public_jwk().items() if k not in {"kid"}}
    inline = ", ".join(f"{k} = {orjson.dumps(v).decode()}" for k, v in public.items())
    print(f"# private key written to {out} (mode 0600); keep it at the department")
    print("# paste into config/departments.toml under the department:")
    print("[[departments.keys]]")
    print(f'name = "{args.name}"')
    print(f"jwk = {{ {inline} }}")
    print("# not_before = 2026-01-01T00:00:00Z")
    return 0


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
        ring = FileKeyRing(args.file).retire(args.id)
    print(f"{args.file}: active key {ring.active()[0]}; keys {', '.join(ring.ids())}")
    return 0
