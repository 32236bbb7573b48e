"""The run's adaptive limit (AIMD) on a clock the test moves: each 429 round trip halves the
window, each success widens it by 1/window, a Retry-After holds every start (issue 14)."""

from __future__ import annotations

import asyncio

import pytest

from mmkit.caption.limiter import AdaptiveLimit


class Clock:
    """Seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    """Let every ready task run until it waits again."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_429_halves_the_window_once_per_round_trip() -> None:
    async def body() -> None:
        clock = Clock()
        limit = AdaptiveLimit(16, clock=clock)
        a, b = await limit.acquire(), await limit.acquire()  # both sent at t=0
        clock.now = 1.0
        limit.release(a, congested=True)
        assert (limit.window, limit.cuts) == (8.0, 1)
        clock.now = 1.5
        limit.release(b, congested=True)  # sent before the cut: the same congestion, no second cut
        assert (limit.window, limit.cuts) == (8.0, 1)
        c = await limit.acquire()  # sent after the cut: a 429 to it is news
        clock.now = 3.0
        limit.release(c, congested=True)
        assert (limit.window, limit.cuts) == (4.0, 2)

    asyncio.run(body())


def test_each_success_widens_the_window_by_one_over_the_window_up_to_the_ceiling() -> None:
    async def body() -> None:
        clock = Clock()
        limit = AdaptiveLimit(16, clock=clock)
        for _ in range(2):
            clock.now += 1.0
            limit.release(await limit.acquire(), congested=True)
        assert limit.window == 4.0
        clock.now += 1.0
        limit.release(await limit.acquire())
        assert limit.window == 4.25  # 4 + 1/4
        limit.release(await limit.acquire())
        assert limit.window == pytest.approx(4.485294117647059)  # 4.25 + 1/4.25
        small = AdaptiveLimit(2, clock=clock)
        small.release(await small.acquire())
        assert small.window == 2.0  # never past --concurrency
        for _ in range(3):
            clock.now += 1.0
            small.release(await small.acquire(), congested=True)
        assert small.window == 1.0  # never below one request in flight

    asyncio.run(body())


def test_no_request_starts_before_the_retry_after_is_over() -> None:
    async def body() -> None:
        clock = Clock()
        limit = AdaptiveLimit(4, clock=clock)
        held = await limit.acquire()
        clock.now = 10.0
        limit.release(await limit.acquire(), congested=True, retry_after=5.0)
        clock.now = 12.0
        waiting = asyncio.create_task(limit.acquire())
        await settle()
        assert not waiting.done()  # 3 s of the server's 5 s are left
        clock.now = 15.5
        limit.release(held)  # any change wakes the waiters; the clock now lets them start
        assert await asyncio.wait_for(waiting, 60) == 15.5

    asyncio.run(body())


def test_a_start_waits_for_a_slot_while_the_window_is_full() -> None:
    async def body() -> None:
        clock = Clock()
        limit = AdaptiveLimit(2, clock=clock)
        first, _ = await limit.acquire(), await limit.acquire()
        third = asyncio.create_task(limit.acquire())
        await settle()
        assert not third.done() and limit.in_flight == 2
        limit.release(first)
        await asyncio.wait_for(third, 60)
        assert limit.in_flight == 2

    asyncio.run(body())


def test_a_window_cut_to_one_lets_one_request_in_flight_not_two() -> None:
    async def body() -> None:
        clock = Clock()
        limit = AdaptiveLimit(2, clock=clock)
        clock.now = 1.0
        limit.release(await limit.acquire(), congested=True)  # 2 -> 1
        assert limit.window == 1.0
        held = await limit.acquire()
        second = asyncio.create_task(limit.acquire())
        await settle()
        assert not second.done() and limit.in_flight == 1
        clock.now = 2.0
        limit.release(held)
        assert await asyncio.wait_for(second, 60) == 2.0
        assert limit.in_flight == 1

    asyncio.run(body())


def test_in_flight_counts_each_start_and_each_answer_once() -> None:
    async def body() -> None:
        limit = AdaptiveLimit(8, clock=Clock())
        started = [await limit.acquire() for _ in range(3)]
        assert limit.in_flight == 3
        limit.release(started[0])
        assert limit.in_flight == 2
        limit.release(started[1], congested=True)
        assert limit.in_flight == 1

    asyncio.run(body())


def test_the_rate_spaces_starts_evenly_from_the_first() -> None:
    async def body() -> None:
        clock = Clock()
        limit = AdaptiveLimit(8, rate=30, clock=clock)  # 30 a minute: one start every 2 s
        first = await limit.acquire()
        assert first == 0.0
        second = asyncio.create_task(limit.acquire())
        await settle()
        assert not second.done()  # the slot is free, the rate is not
        clock.now = 1.9
        limit.release(first)  # any change wakes the waiter; it is still early
        await settle()
        assert not second.done()
        clock.now = 2.0  # the waiter's own timeout (the 0.1 s it had left) brings it back
        assert await asyncio.wait_for(second, 60) == 2.0
        clock.now = 10.0  # a quiet spell does not bank starts: the next is due 2 s after this one
        late = await limit.acquire()
        assert late == 10.0
        third = asyncio.create_task(limit.acquire())
        await settle()
        assert not third.done()
        clock.now = 12.0
        limit.release(late)
        assert await asyncio.wait_for(third, 60) == 12.0
        assert limit.in_flight == 2

    asyncio.run(body())


def test_a_success_never_cuts_the_window() -> None:
    async def body() -> None:
        clock = Clock()
        limit = AdaptiveLimit(4, clock=clock)
        clock.now = 1.0
        limit.release(await limit.acquire())
        assert (limit.window, limit.cuts) == (4.0, 0)

    asyncio.run(body())


def test_a_429_without_retry_after_does_not_hold_the_next_start() -> None:
    async def body() -> None:
        clock = Clock()
        limit = AdaptiveLimit(4, clock=clock)
        clock.now = 5.0
        limit.release(await limit.acquire(), congested=True)
        nxt = asyncio.create_task(limit.acquire())
        await settle()
        assert nxt.done() and nxt.result() == 5.0  # the window shrank; no pause was asked for

    asyncio.run(body())


class CountingClock(Clock):
    """A Clock that counts how often it is read: a waiter that spins reads it in a loop."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_a_start_waiting_for_a_slot_sleeps_instead_of_spinning() -> None:
    async def body() -> None:
        clock = CountingClock()
        limit = AdaptiveLimit(1, clock=clock)
        clock.now = 10.0
        limit.release(await limit.acquire(), congested=True, retry_after=5.0)  # hold to 15.0
        clock.now = 15.0  # the pause ends exactly now (nothing left to wait for), but
        held = await limit.acquire()  # the only slot is taken
        waiting = asyncio.create_task(limit.acquire())
        await settle()
        reads = clock.reads
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done() and clock.reads == reads  # asleep until something changes
        clock.now = 16.0
        limit.release(held)
        assert await asyncio.wait_for(waiting, 60) == 16.0

    asyncio.run(body())
