"""Reading a captioning input only when it is a regular file, so that no input can hang a run.

Opening a named pipe blocks until a writer comes, and reading a device (/dev/zero) never ends:
the file's type (`stat`) decides before any read, and the open itself cannot block.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from mmkit.errors import InvalidMediaError

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # Windows has no FIFOs to block on
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def what(mode: int) -> str | None:
    """What a file of this `st_mode` is when it is not a regular file (None when it is)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def not_regular(path: Path | str, kind: str) -> InvalidMediaError:
    return InvalidMediaError(
        f"{path} is {kind}, not a regular file: it is never read (remove it from the inputs, "
        "or copy what it holds to a file first)"
    )


def open_regular(path: Path | str) -> BinaryIO:
    """`path` opened for reading, if it is a regular file (links followed); raises
    InvalidMediaError for a pipe, socket, device or folder, and OSError as `open` does."""
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | getattr(os, "O_BINARY", 0))
    try:
        kind = what(os.fstat(fd).st_mode)  # the type of what was opened, not of a stale stat
        if kind is not None:
            raise not_regular(path, kind)
        if _NONBLOCK:  # regular files ignore it; clear it all the same for whoever reads on
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
