"""The baselines, each a bare aiohttp handler in its own process, run exactly like the gateway.

- ``--mode bare``: reads the body, parses it as JSON (orjson) and answers 202 with a small JSON.
- ``--mode floor``: the same plus what no acceptance can avoid: one Ed25519 verify of the
  origin signature over the received segments (RFC 7515 5.2) and one Ed25519 signature (the
  countersignature), with ``cryptography`` directly. The gateway's ratio to this is the figure
  issue 15 aims at.

    python -m bench.bare --port P [--mode bare|floor] [--key DEPT.jwk]
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def bare(request: web.Request) -> web.Response:
    orjson.loads(await request.read())
    return web.json_response({"accepted": True}, status=202)


def floor_handler(public: Ed25519PublicKey) -> Any:
    gateway = Ed25519PrivateKey.generate()

    async def floor(request: web.Request) -> web.Response:
        message = orjson.loads(await request.read())
        origin = message["signatures"][0]
        signing_input = f"{origin['protected']}.{message['payload']}".encode("ascii")
        public.verify(b64url_decode(origin["signature"]), signing_input)  # raises if bad
        signature = gateway.sign(signing_input)
        body = orjson.dumps(
            {"accepted": True, "signature": base64.urlsafe_b64encode(signature).decode()}
        )
        return web.Response(body=body, status=202, content_type="application/json")

    return floor


def public_key(path: Path) -> Ed25519PublicKey:
    """The public half of a development key file (an OKP/Ed25519 JWK, RFC 8037)."""
    jwk = orjson.loads(path.read_bytes())
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("bare", "floor"), default="bare")
    parser.add_argument("--key", type=Path, help="the sender's key file (floor mode)")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = web.Application(client_max_size=2 * 1024 * 1024)
    handler = floor_handler(public_key(args.key)) if args.mode == "floor" else bare
    app.router.add_post("/v1/messages", handler)
    app.router.add_get("/readyz", lambda _: web.json_response({"status": "ready"}))
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
