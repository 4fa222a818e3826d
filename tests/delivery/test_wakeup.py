"""The NOTIFY payload that tells other instances what to wake, and the Notifier acting on it."""

from __future__ import annotations

import asyncio

import pytest

from gateway.delivery import Notifier
from gateway.delivery.wakeup import EVERYTHING, MAX_PAYLOAD, Wakeup, decode, encode

# PostgreSQL refuses a NOTIFY payload of this many bytes or more.
POSTGRES_LIMIT = 8000


@pytest.mark.parametrize(
    "wakeup",
    [
        Wakeup(True, ()),
        Wakeup(False, ("330784.health.h001",)),
        Wakeup(True, ("zj.hrss", "zj.medicare")),
        Wakeup(False, None),
        EVERYTHING,
    ],
)
def test_round_trip(wakeup: Wakeup) -> None:
    assert decode(encode(wakeup)) == wakeup


def test_from_routed_recipients() -> None:
    routed = [("zj.hrss", "push"), ("zj.medicare", "pull"), ("zj.police", "pull")]
    assert Wakeup.for_recipients(routed) == Wakeup(True, ("zj.medicare", "zj.police"))
    assert Wakeup.for_recipients([("zj.medicare", "pull")]) == Wakeup(False, ("zj.medicare",))
    assert not Wakeup.for_recipients([("zj.medicare", "pull")]).empty
    assert Wakeup.for_recipients([]).empty


def test_too_many_recipients_become_every_stream() -> None:
    crowd = tuple(f"330784.agency{i:05d}.unit-with-a-long-name" for i in range(2000))
    payload = encode(Wakeup(True, crowd))
    assert len(payload.encode()) <= MAX_PAYLOAD < POSTGRES_LIMIT
    assert decode(payload) == Wakeup(True, None)
    assert decode(encode(Wakeup(False, crowd))) == Wakeup(False, None)


def test_the_longest_list_that_fits_is_named() -> None:
    names = tuple(f"330784.agency.u{i:03d}" for i in range(200))
    first_too_long = next(
        n for n in range(len(names)) if decode(encode(Wakeup(True, names[:n]))).pull is None
    )
    longest = Wakeup(True, names[: first_too_long - 1])
    assert decode(encode(longest)) == longest
    assert MAX_PAYLOAD - 30 < len(encode(longest)) <= MAX_PAYLOAD


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not json",
        "[]",
        '{"pull": []}',
        '{"push": 1, "pull": []}',
        '{"push": true, "pull": [1]}',
        '{"push": false, "pull": "zj.hrss"}',
    ],
)
def test_anything_unreadable_wakes_everything(payload: str) -> None:
    """An older instance's empty payload (rolling upgrade) or garbage: wake all, lose none."""
    assert decode(payload) == EVERYTHING


async def test_notifier_wakes_what_the_notification_names() -> None:
    notifier = Notifier()
    medicare, police = notifier.subscribe("zj.medicare"), notifier.subscribe("zj.police")

    notifier.wake(Wakeup(False, ("zj.medicare", "zj.unknown")))
    assert medicare.is_set() and not police.is_set()
    await notifier.wait_dispatch(0.01)  # would return at once had the dispatcher been woken
    medicare.clear()

    notifier.wake(EVERYTHING)
    assert medicare.is_set() and police.is_set()
    await asyncio.wait_for(notifier.wait_dispatch(5), 1)
