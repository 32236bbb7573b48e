"""Whether a request body can be built on an event loop, or must go to a worker thread.

The AsyncClient builds a body on its loop only when nothing in it needs real work: every media
part already encoded for the target (a captioning loop resending one message, a chat history),
dicts remembered from an earlier call. It tries under `cached_only()`; the first step that would
decode, encode, fetch or copy megabytes calls `needs_work()`, which raises `WouldBlock`, and the
client hands the whole build to its encoder threads instead. Nothing is changed before that
point, so the retry in a thread starts clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Data (bytes or text) copied on the loop per request at most: base64 and JSON run at about
# 1 GB/s, so this keeps one build under a millisecond or two.
MAX_QUICK_BYTES = 1024 * 1024

_cached_only: ContextVar[list[int] | None] = ContextVar("mmkit_cached_only", default=None)


class WouldBlock(BaseException):  # a signal, not an error
    """Raised inside `cached_only()` where real work would start. A BaseException, so that no
    `except Exception` on the way turns it into a user-facing error."""


@contextmanager
def cached_only() -> Iterator[None]:
    """Within this block, work that is not already cached raises WouldBlock."""
    token = _cached_only.set([0])
    try:
        yield
    finally:
        _cached_only.reset(token)


def needs_work() -> None:
    """Call where real work (decode, encode, probe, fetch) is about to start."""
    if _cached_only.get() is not None:
        raise WouldBlock


def copies(nbytes: int) -> None:
    """Call before copying `nbytes` (base64, hashing): too much, and it is real work too."""
    budget = _cached_only.get()
    if budget is not None:
        budget[0] += nbytes
        if budget[0] > MAX_QUICK_BYTES:
            raise WouldBlock
