"""Several gateway processes on one port (``gateway serve --workers N``).

Each worker is a whole gateway (its own event loop, store connections, dispatcher) bound to
the same address with ``SO_REUSEPORT``: the kernel spreads new connections over them, so
acceptance uses every core without a hop through an acceptor process. Measured against one
acceptor feeding verification workers in bench/results (issue 15): the acceptor's own HTTP
parsing, store commit and countersignature stay on one core there, so it cannot scale past
about twice the single-process figure, while separate processes share nothing but the database.

That is also why several workers need a store several instances can share (DESIGN 8): other
workers' commits must wake this one's live streams (LISTEN), a department token must be
single-use across all of them, and an administrator's change must reach every worker. SQLite
declares none of these capabilities (``Capabilities``), so ``--workers`` above 1 is refused
on SQLite with a ``ConfigError`` saying so, rather than running with those guarantees broken.

The parent process only supervises: SIGTERM or SIGINT is passed to every worker and waited
for; a worker that exits stops the others, and the parent exits with its status.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

from gateway.problems import ConfigError
from gateway.storage.base import Capabilities

#: how long workers get to finish after SIGTERM before they are killed (seconds); above the
#: HTTP shutdown timeout of each worker so in-flight acceptances complete
STOP_GRACE = 30.0


def check_shareable(capabilities: Capabilities, workers: int) -> None:
    """``ConfigError`` when ``workers`` > 1 on a store that cannot be shared (see above)."""
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    shared = capabilities.listen and capabilities.token_uses and capabilities.shared_admin_state
    if workers > 1 and not shared:
        raise ConfigError(
            "--workers above 1 needs a store several instances share (PostgreSQL: "
            "--database postgresql://...); the SQLite store is owned by one process"
        )


def supervise(target: Callable[[], None], workers: int) -> int:
    """Run ``target`` in ``workers`` processes until a signal or a worker's exit; returns the
    exit status (0 after a requested stop)."""
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        context.Process(target=target, name=f"gateway-worker-{i}", daemon=False)
        for i in range(workers)
    ]
    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.start()
        while not stopping and all(p.is_alive() for p in processes):
            time.sleep(0.2)
    finally:
        status = _stop_all(processes)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if stopping else status


def _stop_all(processes: list[BaseProcess]) -> int:
    for process in processes:
        if process.is_alive() and process.pid is not None:
            process.terminate()  # SIGTERM: aiohttp's graceful shutdown
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
    codes = [p.exitcode or 0 for p in processes]
    return next((c for c in codes if c != 0), 0)
