"""How long a chat call may take and when it is tried again: timeouts, and retries on tenacity.

Retried: 429, 500, 502, 503, 504, dropped or refused connections, and timeouts. Never another 4xx.
The wait prefers the server's Retry-After (capped), and otherwise is exponential with full jitter.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from mmkit.errors import (
    ConnectionError,
    InvalidOptionError,
    RateLimitError,
    ServerError,
    TimeoutError,
)

logger = logging.getLogger("mmkit.transport")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Timeout:
    """Seconds per phase (None: no limit). `total` bounds a whole call, retries included."""

    connect: float | None = 10.0
    read: float | None = 120.0  # model calls are slow: a long answer takes a while to start
    write: float | None = 120.0
    pool: float | None = 10.0
    total: float | None = None

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


TimeoutLike = Timeout | httpx.Timeout | float | int | None


def as_timeout(value: TimeoutLike) -> Timeout:
    """None: the defaults; a number: the whole call, all tries included (and so each phase too);
    a Timeout (each phase and `total`) or an httpx.Timeout (each phase, as httpx means it)."""
    if value is None:
        return Timeout()
    if isinstance(value, Timeout):
        return value
    if isinstance(value, httpx.Timeout):
        return Timeout(value.connect, value.read, value.write, value.pool)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        seconds = float(value)
        return Timeout(seconds, seconds, seconds, seconds, total=seconds)
    raise InvalidOptionError(
        f"timeout must be a positive number of seconds or a Timeout, not {value!r}"
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait between attempts (seconds)."""

    max_retries: int = 2
    backoff: float = 0.5  # the first exponential step; each retry doubles it
    max_backoff: float = 8.0  # the exponential wait never exceeds this
    max_retry_after: float = 60.0  # a longer Retry-After is cut to this
    total: float | None = None  # no retry whose wait would end past this many seconds

    def __post_init__(self) -> None:
        for name in ("max_retries", "backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            # A config file can hand over anything (max_retries: "two", or empty: None).
            if not isinstance(value, (int, float)) or not value >= 0:
                raise InvalidOptionError(f"{name} must be a number, 0 or more, not {value!r}")

    def retrying(self) -> Retrying:
        """A sync controller; build once per client and reuse (it keeps no per-call state)."""
        return Retrying(
            sleep=time.sleep,
            stop=self._stop(),
            wait=RetryAfterOrJitter(self),
            retry=retry_if_exception(is_retryable),
            reraise=True,
            before_sleep=_log_retry,
        )

    def async_retrying(self) -> AsyncRetrying:
        # Safe to share between tasks: every callback is sync, so tenacity never yields
        # between resetting and reading its per-thread iteration state.
        return AsyncRetrying(
            sleep=asyncio.sleep,
            stop=self._stop(),
            wait=RetryAfterOrJitter(self),
            retry=retry_if_exception(is_retryable),
            reraise=True,
            before_sleep=_log_retry,
        )

    def _stop(self) -> stop_base:
        stop: stop_base = stop_after_attempt(self.max_retries + 1)
        if self.total is not None:  # give up before a wait that would outlast the budget
            stop = stop | stop_before_delay(self.total)
        return stop


class TotalTimeoutError(TimeoutError):
    """The call's total timeout is used up: another attempt cannot help, so none is made."""


def is_retryable(exc: BaseException) -> bool:
    """Rate limits, gateway and server hiccups, refused and dropped connections, timeouts."""
    if isinstance(exc, TotalTimeoutError):
        return False
    if isinstance(exc, (RateLimitError, TimeoutError, ConnectionError)):
        return True
    return isinstance(exc, ServerError) and (exc.status is None or exc.status in RETRY_STATUSES)


class RetryAfterOrJitter:
    """tenacity wait: the server's Retry-After when it sent one, else exponential full jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._cap = policy.max_retry_after
        self._jitter = wait_random_exponential(multiplier=policy.backoff, max=policy.max_backoff)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = getattr(exc, "retry_after", None)
        if isinstance(after, (int, float)):
            return min(max(float(after), 0.0), self._cap)
        return float(self._jitter(state))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "nan" and "inf" parse as floats, but are no wait (time.sleep(nan) raises)
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # a year past C's int: Overflow
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a naive result means the zone was missing
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


def retry_reason(exc: BaseException | None) -> str:
    """Why a try failed, for the log: the status, or mmkit's own words for a failure without
    one. Never the server's text: an error body may quote the request."""
    if exc is None:
        return "no answer"
    status = getattr(exc, "status", None)
    if status is not None:
        return f"HTTP {status} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {str(exc)[:300]}"  # already scrubbed of the key


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    # INFO: a call that hangs on retries should say so to anyone who turned logging on
    logger.info(
        "try %d failed: %s; retrying in %.1f s",
        state.attempt_number,
        retry_reason(exc),
        wait,
    )
