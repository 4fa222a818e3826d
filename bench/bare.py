"""The baseline: a bare aiohttp handler that reads the body and answers 202 with a small JSON.

Run in its own process exactly like the gateway, so the ratio shows what acceptance costs on
top of the HTTP server itself.
"""

from __future__ import annotations

import argparse

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"accepted": True}, status=202)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_post("/v1/messages", accept)
    app.router.add_get("/readyz", lambda _: web.json_response({"status": "ready"}))
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
