"""Run one function in several processes that start it at the same instant (a barrier), as
gateway instances starting together on one data directory would."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

PROCESSES = 8


def _call(
    barrier: Any, results: Any, index: int, target: Callable[..., object], args: tuple[Any, ...]
) -> None:
    barrier.wait()
    try:
        result = target(*args)
    except BaseException as exc:  # reported as text: not every exception pickles
        result = f"raised {type(exc).__name__}: {exc}"
    results.put((index, result))


def run_together(
    target: Callable[..., object], *args: Any, processes: int = PROCESSES
) -> list[object]:
    """``target(*args)`` in ``processes`` fresh processes at once; each one's result in
    order (an exception comes back as the text ``raised <type>: <message>``). ``target``
    and its result must pickle."""
    ctx = multiprocessing.get_context("spawn")  # no fork of the test runner's threads
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    workers = [
        ctx.Process(target=_call, args=(barrier, results, i, target, args))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    collected = dict(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=10)
    return [collected[i] for i in range(processes)]
