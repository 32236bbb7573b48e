"""How fast a whole run sends: adaptive concurrency (AIMD), Retry-After pauses, a rate ceiling.

Every request of the run takes a slot here first. A 429 (or a 503 with Retry-After) is a signal
for the run, not for one item: the window of requests in flight halves (once per round trip:
answers to requests sent before the cut do not cut again), and no request starts until the
server's Retry-After has passed. Each success widens the window by 1/window, so it grows by about
one request per round trip until it is back at the user's --concurrency. `rate` (requests per
minute) spaces the starts evenly on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class AdaptiveLimit:
    """`clock`: seconds that only go forward (time.monotonic; tests pass a clock they move)."""

    def __init__(
        self,
        concurrency: int,
        rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.ceiling = concurrency
        self.window = float(concurrency)
        self._interval = 60.0 / rate if rate else 0.0
        self._in_flight = 0
        self._resume_at = 0.0  # no start before this (the server's Retry-After)
        self._next_start = 0.0  # the rate ceiling's next free start
        self._last_cut = 0.0
        self._changed = asyncio.Event()
        self.cuts = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def acquire(self) -> float:
        """Wait for a slot; returns the start time to hand back to `release`."""
        while True:
            now = self._clock()
            wait = max(self._resume_at, self._next_start) - now
            if wait <= 0 and self._in_flight < max(1, int(self.window)):
                break
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait if wait > 0 else None)
        self._in_flight += 1
        if self._interval:
            self._next_start = max(now, self._next_start) + self._interval
        return now

    def release(self, started: float, *, congested: bool = False, retry_after: float = 0.0) -> None:
        """Give the slot back. `congested`: the server said slow down (429, Retry-After)."""
        self._in_flight -= 1
        now = self._clock()
        if congested:
            if started >= self._last_cut:  # one cut per round trip, not one per answer
                self.window = max(1.0, self.window / 2)
                self._last_cut = now
                self.cuts += 1
            self._resume_at = max(self._resume_at, now + retry_after)
        elif self.window < self.ceiling:
            self.window = min(float(self.ceiling), self.window + 1.0 / self.window)
        self._changed.set()
