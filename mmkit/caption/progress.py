"""Progress while a run goes: a tqdm bar on a terminal, plain periodic lines otherwise.

tqdm comes with the `[cli]` extra; without it, or when stderr is not a terminal (a log file, CI),
one line every `every` seconds says the same: done/total, rate, failures, retries.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from mmkit.caption.summary import Summary


class Progress:
    """Told about each item; shows it. `total` is None while the inputs are still being listed."""

    def __init__(self, summary: Summary, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.summary = summary
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.total: int | None = None
        self._bar: Any = None
        self._started = time.monotonic()
        self._shown = self._started
        if _is_terminal(self.stream):
            try:
                from tqdm import tqdm
            except ImportError:  # the [cli] extra is not installed: plain lines
                pass
            else:
                self._bar = tqdm(total=None, unit="item", file=self.stream, dynamic_ncols=True)

    def listed(self, total: int) -> None:
        """Every input is listed: the total (and so the ETA) is known."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def step(self) -> None:
        """An item finished (captioned, failed or skipped)."""
        s = self.summary
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(
                failed=s.failures, retries=s.retries, skipped=s.skipped, refresh=False
            )
            return
        now = time.monotonic()
        if now - self._shown >= self.every:
            self._shown = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        s = self.summary
        elapsed = (now or time.monotonic()) - self._started
        finished = s.done + s.skipped + s.failures
        rate = s.done / elapsed if elapsed > 0 else 0.0
        total = f"{self.total:,}" if self.total is not None else f"{s.items:,}+"
        eta = ""
        if self.total is not None and finished and rate > 0:
            eta = f", ETA {max(self.total - finished, 0) / (finished / elapsed):.0f} s"
        return (
            f"caption: {finished:,}/{total} ({rate:.1f} captions/s{eta}), "
            f"failed {s.failures:,}, retries {s.retries:,}, skipped {s.skipped:,}"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
