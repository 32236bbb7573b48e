"""Server-Sent Events, parsed by push: feed text chunks as they arrive, get each event's data.

Pure logic with no I/O, so the sync and async clients share it. Only `data:` fields matter for
chat streams; comments, `event:`, `id:` and `retry:` fields are read and ignored.
"""

from __future__ import annotations

import re

# The SSE spec ends lines with \r\n, \r or \n, and nothing else (str.splitlines knows too many).
_LINE_END = re.compile(r"\r\n|\r|\n")
_ANY_END = re.compile(r"[\r\n]")
# A chat event is a few hundred bytes; a line longer than this is a broken or hostile server.
MAX_LINE = 4 * 1024 * 1024


class LineTooLongError(ValueError):
    """A line (or one event's data) grew past the decoder's limit without ending."""


class SSEDecoder:
    """Split a stream of text chunks into SSE events and return each event's data string.

    An unfinished line is kept as a list of parts (joined once it ends, so a long line costs
    linear time), and no line or event may pass `max_line` characters.
    """

    __slots__ = ("_after_cr", "_buffer", "_data", "_data_size", "_max", "_pending", "_size")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buffer = ""
        self._pending: list[str] = []  # parts of the unfinished line after _buffer
        self._size = 0
        self._data: list[str] = []
        self._data_size = 0
        self._after_cr = False
        self._max = max_line

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
        if _ANY_END.search(chunk) is None:  # still the same line: keep the part, join later
            self._size += len(chunk)
            if self._size > self._max:
                raise LineTooLongError(f"a stream line passed {self._max} characters")
            self._pending.append(chunk)
            return []
        head = self._buffer + "".join(self._pending)
        self._pending.clear()
        lines = _LINE_END.split(head + chunk)
        self._buffer = lines.pop()  # the unfinished last line ("" when the chunk ended one)
        self._size = len(self._buffer)
        if self._size > self._max:
            raise LineTooLongError(f"a stream line passed {self._max} characters")
        events: list[str] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def end(self) -> list[str]:
        """The last event when the body ends without the blank line that closes it."""
        self._buffer += "".join(self._pending)
        self._pending.clear()
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
            self._data_size = 0
            return data
        if line.startswith(":"):  # a comment, used as a keep-alive
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data_size += len(value)
            if self._data_size > self._max:  # many short data: lines make one event too
                raise LineTooLongError(f"a stream event passed {self._max} characters")
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None
