"""The running gateway's view of its own audit chain, for monitoring.

``gateway audit verify`` proves the whole chain offline. A running instance cannot afford that
at every scrape, so it verifies each entry once: it remembers how far it got (the last entry's
seq and hash) and checks only what was appended since, page by page. A break among the new
entries (a missing entry, a broken link, changed bytes) sets the gauge to 0 and it stays 0
until the process restarts, when the whole chain is verified again from the first entry.
Entries already verified are not read again, so a change to an old entry is found by the
next restart or by ``gateway audit verify``, not by this watch.
"""

from __future__ import annotations

import structlog

from gateway.audit.verify import Verdict, verify_rows
from gateway.metrics import Metrics
from gateway.storage.base import Store

log = structlog.get_logger("gateway.audit")

PAGE = 1000


class ChainWatch:
    """Incremental verifier feeding ``zjx_audit_chain_intact`` and
    ``zjx_audit_verified_entries``."""

    def __init__(self) -> None:
        self._seq = 0
        self._head: str | None = None  # the last verified hash; None before the first
        self.broken: Verdict | None = None

    async def check(self, store: Store, metrics: Metrics) -> bool:
        """Verify the entries appended since the last call; True while the chain is intact."""
        while self.broken is None:
            rows = await store.audit_rows(self._seq, PAGE)
            verdict = verify_rows(rows, self._seq, self._head)
            if not verdict.intact:
                self._fail(verdict)
                break
            if rows:
                self._seq, self._head = rows[-1][0], verdict.head
            if len(rows) < PAGE:
                break
        metrics.audit_verified.set(self._seq)
        metrics.audit_chain_intact.set(1 if self.broken is None else 0)
        return self.broken is None

    def _fail(self, verdict: Verdict) -> None:
        self.broken = verdict
        log.error(
            "audit.chain_broken",
            entry=verdict.broken_seq,
            reason=verdict.reason,
            detail=verdict.detail,
        )
