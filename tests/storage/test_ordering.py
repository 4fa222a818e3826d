"""The pull cursor contract, on both stores: sequence order is commit order.

Why it matters: ``GET /v1/inbox?after=<seq>`` and the SSE stream (resuming from
``Last-Event-ID``) page by sequence number. If a message could commit after a
higher-numbered one had already been read, a cursor past that higher number would never see
it: the message would wait unacknowledged in the inbox but never reach a live stream. The
benchmark found exactly that on PostgreSQL, where numbers came from a SEQUENCE taken before
the transaction's audit lock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from gateway.storage.base import AcceptOutcome

from .conftest import AnyStore, default_build, request

PULL = ("zj.medicare", "pull")
#: How long the faster writer gets to overtake the slower one (it must not manage to).
OVERTAKE_SECONDS = 0.7


async def test_cursor_never_skips_a_message_that_commits_later(
    store: AnyStore, make_store: Callable[[], AnyStore]
) -> None:
    """Writer "slow" is numbered first, then stalls inside ``build`` (which runs inside the
    accept transaction) while writer "fast" accepts. A reader takes a page, then continues
    after the last number it saw: between the two pages it must get both messages."""
    numbered, release = threading.Event(), threading.Event()

    def stalling_build(seq: int) -> tuple[bytes, bytes]:
        numbered.set()
        release.wait(10)
        return default_build(seq)

    async def accept_slowly() -> AcceptOutcome:
        # Its own store and event loop in another thread: on PostgreSQL ``build`` runs on
        # the event loop, and stalling ours would stall the other writer too.
        other = make_store()
        await other.open()
        try:
            return await other.accept(request("slow", recipients=[PULL], build=stalling_build))
        finally:
            await other.close()

    slow = asyncio.create_task(asyncio.to_thread(asyncio.run, accept_slowly()))
    try:
        assert await asyncio.to_thread(numbered.wait, 10)
        fast = asyncio.create_task(store.accept(request("fast", recipients=[PULL])))
        await asyncio.wait({fast}, timeout=OVERTAKE_SECONDS)
        first_page = await store.inbox(PULL[0], 0, 100)
    finally:
        release.set()
    slow_outcome, fast_outcome = await slow, await fast
    assert slow_outcome.record.seq < fast_outcome.record.seq

    cursor = first_page[-1].seq if first_page else 0
    second_page = await store.inbox(PULL[0], cursor, 100)
    seen = [m.event_id for m in first_page + second_page]
    assert sorted(seen) == ["fast", "slow"]


async def test_many_concurrent_writers_keep_the_cursor_whole(
    store: AnyStore, make_store: Callable[[], AnyStore]
) -> None:
    """A reader following the inbox by cursor while three instances accept concurrently
    sees every message exactly once."""
    writers = [make_store() for _ in range(3)]
    for writer in writers:
        await writer.open()
    seen: list[int] = []
    done = asyncio.Event()

    async def follow() -> None:
        cursor = 0
        while True:
            finished = done.is_set()  # read before the page: the last page is complete
            page = await store.inbox(PULL[0], cursor, 500)
            seen.extend(m.seq for m in page)
            cursor = page[-1].seq if page else cursor
            if finished and not page:
                return
            await asyncio.sleep(0)

    async def write(writer: AnyStore, n: int) -> None:
        for i in range(40):
            await writer.accept(request(f"w{n}-{i}", recipients=[PULL]))

    reader = asyncio.create_task(follow())
    try:
        await asyncio.gather(*(write(w, n) for n, w in enumerate(writers)))
    finally:
        done.set()
        for writer in writers:
            await writer.close()
    await reader
    assert len(seen) == len(set(seen)) == 120
