"""Retention: delivered messages older than the configured period are purged.

Only messages whose every delivery is finished (delivered or discarded) go; pending and dead
letters stay until handled. The audit chain is never purged: it holds no personal data and
is the proof of what was exchanged. The worker that runs ``purge_once`` every hour is in
``gateway.api.workers``.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from gateway.clock import Clock
from gateway.storage.base import Store

log = structlog.get_logger("gateway.retention")


async def purge_once(store: Store, clock: Clock, retention: timedelta) -> int:
    """Purge what was delivered more than ``retention`` ago; returns how many messages."""
    purged = await store.purge_delivered_before(clock.now() - retention)
    if purged:
        log.info("retention.purged", messages=purged, older_than_days=retention.days)
    return purged
