"""``gateway validate``, ``gateway sign`` and ``gateway verify``: the tools a department's
developer uses before its adapter ever talks to the gateway."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.assembly import build_key_registry, load_gateway_key
from gateway.clock import utc_iso
from gateway.configuration import load_config
from gateway.messages import SignedMessage, build_event, sign_message, strict_json, verify_all
from gateway.options import Options
from gateway.packaged import default_schema_dir
from gateway.problems import ConfigError, GatewayError, Violation
from gateway.trust import KeyRegistry, SigningKey
from gateway.validation import SchemaRegistry


def register(commands: Any) -> None:
    validate = commands.add_parser(
        "validate", help="validate a document (with --type) or a whole message"
    )
    validate.add_argument("file", type=Path)
    validate.add_argument(
        "--type", help="document type, e.g. cn.gov.zj.injury.medical_diagnosis.v1"
    )
    validate.add_argument("--schemas", type=Path, default=default_schema_dir())
    validate.set_defaults(handler=validate_file)

    sign = commands.add_parser("sign", help="wrap a document in a signed message")
    sign.add_argument("document", type=Path)
    sign.add_argument("--as", dest="department", required=True, help="sending department id")
    sign.add_argument("--key", type=Path, required=True, help="the department's private key")
    sign.add_argument("--type", required=True, help="document type")
    sign.add_argument("--subject", help="case id")
    sign.add_argument("--id", help="event id (default: a new UUID)")
    sign.set_defaults(handler=sign_document)

    verify = commands.add_parser("verify", help="check every signature of a message")
    verify.add_argument("message", type=Path)
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--jwks", type=Path, help="a JWKS file (e.g. the gateway's jwks.json)")
    source.add_argument("--config", type=Path, help="configuration directory")
    verify.add_argument(
        "--data-dir",
        type=Path,
        default=Options().data_dir,
        help="where development keys live (with --config)",
    )
    verify.add_argument(
        "--gateway-id",
        help="the gateway whose countersignature to expect "
        "(default: the configuration's gateway id)",
    )
    verify.set_defaults(handler=verify_message)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def _print_violations(violations: list[Violation]) -> None:
    for violation in violations:
        print(f"{violation.pointer or '/'}: {violation.message}")


def validate_file(args: argparse.Namespace) -> int:
    schemas = SchemaRegistry.load(args.schemas)
    raw = _read(args.file)
    try:
        if args.type:
            doc_type, data, prefix = args.type, strict_json.loads(raw), ""
        else:
            event = SignedMessage.parse(raw).event
            doc_type, data, prefix = event.type, event.data, "/data"
        if doc_type not in schemas.types():
            print(f"unknown document type {doc_type}")
            return 1
        violations = schemas.validate(doc_type, data)
    except GatewayError as exc:
        print(f"invalid: {exc.detail}")
        _print_violations(exc.violations)
        return 1
    if violations:
        print(f"invalid {doc_type}: {len(violations)} problem(s)")
        _print_violations([Violation(prefix + v.pointer, v.message) for v in violations])
        return 1
    print(f"valid {doc_type}")
    return 0


def sign_document(args: argparse.Namespace) -> int:
    key = SigningKey.load(args.key)
    data = strict_json.loads(_read(args.document))
    if not isinstance(data, dict):
        raise ConfigError(f"{args.document}: the document must be a JSON object")
    payload = build_event(
        source=args.department, type=args.type, data=data, id=args.id, subject=args.subject
    )
    sys.stdout.write(sign_message(payload, key).decode() + "\n")
    return 0


def _resolver(args: argparse.Namespace) -> tuple[KeyRegistry, str]:
    """The keys to verify with, and the gateway id the countersignature must name."""
    config = load_config(args.config or Options().config_dir)
    gateway_id: str = args.gateway_id or config.gateway.id
    if args.jwks:
        return KeyRegistry.from_jwks(orjson.loads(_read(args.jwks))), gateway_id
    gateway_key = load_gateway_key(config, args.data_dir)
    return build_key_registry(config, args.data_dir, gateway_key), gateway_id


def verify_message(args: argparse.Namespace) -> int:
    raw = _read(args.message)
    resolver, gateway_id = _resolver(args)
    now = datetime.now(UTC)
    try:
        message = SignedMessage.parse(raw)
        if len(message.signatures) == 1:
            signer = message.verify_origin(resolver, now)
            print(
                f"origin: {signer} ({message.origin.kid}) - valid, signed "
                f"{utc_iso(message.event.time)}"
            )
            print("gateway: not countersigned yet")
            return 0
        verified = verify_all(raw, resolver, now, gateway_id=gateway_id)
    except GatewayError as exc:
        print(f"INVALID: {exc.detail}")
        return 1
    print(f"origin: {verified.origin} - valid")
    print(
        f"gateway: {verified.gateway} - valid, accepted {utc_iso(verified.accepted_at)}, "
        f"sequence {verified.seq}, recipients {', '.join(verified.recipients)}"
    )
    return 0
