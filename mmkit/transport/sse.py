"""Server-Sent Events, parsed by push: feed text chunks as they arrive, get each event's data.

Pure logic with no I/O, so the sync and async clients share it. Only `data:` fields matter for
chat streams; comments, `event:`, `id:` and `retry:` fields are read and ignored.
"""

from __future__ import annotations

import re

# The SSE spec ends lines with \r\n, \r or \n, and nothing else (str.splitlines knows too many).
_LINE_END = re.compile(r"\r\n|\r|\n")


class SSEDecoder:
    """Split a stream of text chunks into SSE events and return each event's data string."""

    __slots__ = ("_after_cr", "_buffer", "_data")

    def __init__(self) -> None:
        self._buffer = ""
        self._data: list[str] = []
        self._after_cr = False

    def feed(self, chunk: str) -> list[str]:
        """The data of every event completed by this chunk (lines may span chunks)."""
        if not chunk:
            return []
        if self._after_cr and chunk.startswith("\n"):  # the second half of a split \r\n
            chunk = chunk[1:]
        # Set even when nothing is left: a later "\n" is then a line of its own (a blank line).
        self._after_cr = chunk.endswith("\r")
        if not chunk:
            return []
        lines = _LINE_END.split(self._buffer + chunk)
        self._buffer = lines.pop()  # the unfinished last line ("" when the chunk ended one)
        events: list[str] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def end(self) -> list[str]:
        """The last event when the body ends without the blank line that closes it."""
        if self._buffer:
            self._line(self._buffer)
            self._buffer = ""
        if not self._data:
            return []
        data = "\n".join(self._data)
        self._data = []
        return [data]

    def _line(self, line: str) -> str | None:
        if not line:  # a blank line dispatches the event
            if not self._data:
                return None
            data = "\n".join(self._data)
            self._data = []
            return data
        if line.startswith(":"):  # a comment, used as a keep-alive
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None
