"""One push attempt: POST the countersigned message to the recipient's endpoint.

Headers follow Standard Webhooks (``webhook-id``, ``webhook-timestamp``) so recipients can
reuse its tooling for idempotency. The body is the countersigned JWS, which already carries
both signatures, so no separate webhook signature is added.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import aiohttp

MEDIA_TYPE = "application/jose+json"
MAX_RECEIPT_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class PushResult:
    status: int | None  # None: no HTTP answer (refused, timeout, reset)
    receipt: bytes | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        return self.status == 410


class Pusher:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def push(
        self,
        endpoint: str,
        body: bytes,
        webhook_id: str,
        now: datetime,
        seconds: float,
        extra: Mapping[str, str] | None = None,
    ) -> PushResult:
        """POST ``body``; ``extra`` headers besides the webhook ones (the attachments'
        signed ``Link``)."""
        headers = {
            **(extra or {}),
            "content-type": MEDIA_TYPE,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
        }
        try:
            async with self._session.post(
                endpoint,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=seconds),
                allow_redirects=False,
            ) as response:
                receipt = await response.content.read(MAX_RECEIPT_BYTES)
                ok = 200 <= response.status < 300
                error = None if ok else f"HTTP {response.status}"
                return PushResult(response.status, receipt if ok and receipt else None, error)
        except TimeoutError:
            return PushResult(None, None, f"timeout after {seconds:g} s")
        except (aiohttp.ClientError, asyncio.CancelledError, OSError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            return PushResult(None, None, f"{type(exc).__name__}: {exc}"[:200])
