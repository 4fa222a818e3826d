"""Retention: delivered messages older than the configured period are purged.

Only messages whose every delivery is finished (delivered or discarded) go; pending and dead
letters stay until handled. The audit chain is never purged: it holds no personal data and
is the proof of what was exchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import structlog

from gateway.clock import Clock
from gateway.storage.base import Store

log = structlog.get_logger("gateway.retention")


async def purge_once(store: Store, clock: Clock, retention: timedelta) -> int:
    purged = await store.purge_delivered_before(clock.now() - retention)
    if purged:
        log.info("retention.purged", messages=purged, older_than_days=retention.days)
    return purged


async def run_retention(
    store: Store, clock: Clock, retention: Callable[[], timedelta], every: float = 3600.0
) -> None:
    """Purge now and then every ``every`` seconds; errors are logged, never fatal."""
    while True:
        try:
            await purge_once(store, clock, retention())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention.failed")
        await asyncio.sleep(every)
