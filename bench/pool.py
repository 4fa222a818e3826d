"""Pre-signed messages for the load tools: one JWS (General JSON Serialization) a line.

Each message is a medical diagnosis (the issue's 1.3 KB document) from the hospital
``330784.health.h001`` with its own event id, signed with the hospital's development key
from the gateway's data directory. The first message is also checked with the gateway's own
``build_event``/``sign_message`` path so a pool the gateway would refuse fails here, early.
Signing is done with ``cryptography`` directly (about 4x faster than the general path), since
tens of thousands are made per run.

    python -m bench.pool --keys DIR/dev-keys --out FILE --count N --run TAG [--cases ID,ID]
"""

from __future__ import annotations

import argparse
import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.clock import utc_iso
from gateway.messages import SignedMessage, build_event, schema_id
from gateway.packaged import default_schema_dir

SOURCE = "330784.health.h001"
TYPE = "cn.gov.zj.injury.medical_diagnosis.v1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def document() -> dict[str, Any]:
    path = sorted((default_schema_dir() / "examples/medical_diagnosis/valid").glob("*.json"))[0]
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def _private_key(path: Path) -> tuple[Ed25519PrivateKey, str]:
    jwk = orjson.loads(path.read_bytes())
    if jwk.get("crv") != "Ed25519":
        raise SystemExit(f"{path}: the pool signs with Ed25519 development keys only")
    raw = base64.urlsafe_b64decode(jwk["d"] + "=" * (-len(jwk["d"]) % 4))
    return Ed25519PrivateKey.from_private_bytes(raw), str(jwk["kid"])


def write_pool(keys: Path, out: Path, count: int, run: str, cases: list[str]) -> None:
    """``count`` messages ``<run>-<i>`` into ``out``; under ``cases`` in turn when given."""
    key, kid = _private_key(keys / f"{SOURCE}.jwk")
    protected = b64url(orjson.dumps({"alg": "Ed25519", "kid": kid}))
    data = document()
    now = utc_iso(datetime.now(UTC))
    with out.open("wb") as handle:
        for i in range(count):
            event: dict[str, Any] = {
                "specversion": "1.0",
                "id": f"{run}-{i}",
                "source": SOURCE,
                "type": TYPE,
            }
            if cases:
                event["subject"] = cases[i % len(cases)]
            event |= {
                "time": now,
                "dataschema": schema_id(TYPE),
                "datacontenttype": "application/json",
                "data": data,
            }
            payload = b64url(orjson.dumps(event))
            signature = b64url(key.sign(f"{protected}.{payload}".encode("ascii")))
            origin = {"protected": protected, "signature": signature}
            line = orjson.dumps({"payload": payload, "signatures": [origin]})
            if i == 0:
                _check(line)
            handle.write(line + b"\n")


def _check(line: bytes) -> None:
    message = SignedMessage.parse(line)
    build_event(
        source=message.event.source,
        type=message.event.type,
        data=message.event.data,
        id=message.event.id,
        subject=message.event.subject,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--cases", default="")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    write_pool(args.keys, args.out, args.count, args.run, cases)


if __name__ == "__main__":
    main()
