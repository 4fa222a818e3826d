"""A small receiving server for pushed messages.

It verifies both signatures (origin and gateway) against the gateway's published JWKS,
refetching the JWKS once when it meets an unknown key id (rotation), deduplicates by
``webhook-id`` (delivery is at least once), hands the document to a callback and answers
with a delivery receipt signed by the department's own key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from gateway.messages import Verified, verify_all
from gateway.messages.jws import sign_compact
from gateway.problem_types import UNKNOWN_KEY
from gateway.problems import GatewayError
from gateway.trust import KeyRegistry, SigningKey


@dataclass(frozen=True, slots=True)
class Delivered:
    webhook_id: str
    verified: Verified
    body: bytes


Callback = Callable[[Delivered], Awaitable[None]]


class Receiver:
    def __init__(
        self,
        department: str,
        key: SigningKey,
        jwks_url: str,
        session: aiohttp.ClientSession,
        callback: Callback,
        gateway_id: str,
        path: str = "/inbound",
    ) -> None:
        self.department = department
        self.key = key
        self.jwks_url = jwks_url
        self.session = session
        self.callback = callback
        self.gateway_id = gateway_id
        self.path = path
        self._keys: KeyRegistry | None = None
        self._seen: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_post(self.path, self.handle)
        return app

    async def _registry(self, refresh: bool = False) -> KeyRegistry:
        if self._keys is None or refresh:
            async with self.session.get(self.jwks_url) as response:
                self._keys = KeyRegistry.from_jwks(orjson.loads(await response.read()))
        return self._keys

    async def verify(self, body: bytes) -> Verified:
        now = datetime.now(UTC)
        try:
            return verify_all(body, await self._registry(), now, gateway_id=self.gateway_id)
        except GatewayError as exc:
            if exc.problem is not UNKNOWN_KEY:
                raise
            return verify_all(
                body, await self._registry(refresh=True), now, gateway_id=self.gateway_id
            )

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        webhook_id = request.headers.get("webhook-id", "")
        try:
            verified = await self.verify(body)
        except GatewayError as exc:
            return web.json_response(
                {"type": exc.type_uri, "title": exc.title, "detail": exc.detail},
                status=400,
                content_type="application/problem+json",
            )
        if self.department not in verified.recipients:
            return web.json_response({"detail": "not addressed to this department"}, status=400)
        if webhook_id not in self._seen:
            await self.callback(Delivered(webhook_id, verified, body))
            self._seen.add(webhook_id)
        return web.Response(body=self.receipt(webhook_id, body), content_type="application/json")

    def receipt(self, webhook_id: str, body: bytes) -> bytes:
        claims: dict[str, Any] = {
            "webhook_id": webhook_id,
            "recipient": self.department,
            "sha256": hashlib.sha256(body).hexdigest(),
            "received_at": datetime.now(UTC).isoformat(),
        }
        token = sign_compact(
            {"alg": self.key.alg, "kid": self.key.kid}, orjson.dumps(claims), self.key
        )
        return orjson.dumps({"receipt": token})
