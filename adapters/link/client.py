"""A department's client for the gateway.

Retries resend the very same signed bytes, so the event id (the idempotency key) is the same
and the gateway answers a retry with the original receipt instead of accepting twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from gateway.clock import Clock, SystemClock
from gateway.messages import build_event, sign_message
from gateway.trust import SigningKey, issue_token

RETRYABLE = frozenset({429, 500, 502, 503, 504})


class SubmitError(Exception):
    """The gateway refused the message. ``problem`` is its RFC 9457 body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('type')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


class GatewayClient:
    def __init__(
        self,
        base_url: str,
        department: str,
        key: SigningKey,
        gateway_id: str,
        session: aiohttp.ClientSession,
        *,
        attempts: int = 5,
        backoff: float = 0.2,
        clock: Clock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.department = department
        self.key = key
        self.gateway_id = gateway_id
        self.session = session
        self.attempts = attempts
        self.backoff = backoff
        self.clock: Clock = clock or SystemClock()

    def sign(
        self,
        doc_type: str,
        data: dict[str, Any],
        *,
        subject: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> bytes:
        payload = build_event(
            source=self.department,
            type=doc_type,
            data=data,
            id=event_id,
            subject=subject,
            time=time or self.clock.now(),
        )
        return sign_message(payload, self.key)

    async def submit(self, doc_type: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return await self.submit_signed(self.sign(doc_type, data, **kwargs))

    async def submit_signed(self, body: bytes) -> dict[str, Any]:
        """POST with retries on transient failures; raises ``SubmitError`` on a refusal."""
        for attempt in range(1, self.attempts + 1):
            try:
                async with self.session.post(
                    f"{self.base_url}/v1/messages",
                    data=body,
                    headers={"content-type": "application/jose+json"},
                ) as response:
                    answer = await response.read()
                    if response.status == 202:
                        receipt: dict[str, Any] = orjson.loads(answer)
                        return receipt
                    if response.status not in RETRYABLE or attempt == self.attempts:
                        raise SubmitError(response.status, _problem(answer))
            except (aiohttp.ClientConnectionError, TimeoutError):
                if attempt == self.attempts:
                    raise
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * random.random())
        raise AssertionError("unreachable")

    def token(self) -> str:
        return issue_token(self.key, self.gateway_id, now=self.clock.now())

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    async def _get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        async with self.session.get(
            f"{self.base_url}{path}", headers=self._auth(), params=params
        ) as response:
            answer = await response.read()
            if response.status != 200:
                raise SubmitError(response.status, _problem(answer))
            return orjson.loads(answer)

    async def status(self, event_id: str, source: str | None = None) -> dict[str, Any]:
        params = {"source": source} if source else None
        result: dict[str, Any] = await self._get_json(f"/v1/messages/{event_id}", params)
        return result

    async def case(self, case_id: str) -> dict[str, Any]:
        """A case's stage, deadline flag and timeline (GET /v1/cases/{id}); parties only."""
        result: dict[str, Any] = await self._get_json(f"/v1/cases/{case_id}")
        return result

    async def inbox(self, after: int = 0, limit: int = 100) -> dict[str, Any]:
        result: dict[str, Any] = await self._get_json(
            "/v1/inbox", {"after": str(after), "limit": str(limit)}
        )
        return result

    async def ack(self, sequences: list[int]) -> int:
        async with self.session.post(
            f"{self.base_url}/v1/inbox/ack",
            data=orjson.dumps({"sequences": sequences}),
            headers={**self._auth(), "content-type": "application/json"},
        ) as response:
            answer = await response.read()
            if response.status != 200:
                raise SubmitError(response.status, _problem(answer))
            count: int = orjson.loads(answer)["acknowledged"]
            return count

    async def stream(self, last_event_id: int | None = None) -> AsyncIterator[tuple[int, bytes]]:
        """Yield (sequence, countersigned message bytes) from the SSE stream."""
        headers = self._auth()
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        async with self.session.get(
            f"{self.base_url}/v1/inbox/stream", headers=headers, timeout=timeout
        ) as response:
            if response.status != 200:
                raise SubmitError(response.status, _problem(await response.read()))
            event_id: int | None = None
            data: bytes | None = None
            async for raw_line in response.content:
                line = raw_line.rstrip(b"\r\n")
                if line.startswith(b"id: "):
                    event_id = int(line[4:])
                elif line.startswith(b"data: "):
                    data = line[6:]
                elif not line and event_id is not None and data is not None:
                    yield event_id, data
                    event_id, data = None, None

    async def jwks(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base_url}/.well-known/jwks.json") as response:
            result: dict[str, Any] = orjson.loads(await response.read())
            return result


def _problem(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {"detail": body[:200].decode("utf-8", "replace")}
    return parsed if isinstance(parsed, dict) else {"detail": str(parsed)}
