"""Name lookups with a time limit: `socket.getaddrinfo` has none of its own, so a resolver that
never answers would hold a sync call past any total timeout."""

from __future__ import annotations

import socket
import threading
from typing import Any


def resolve(host: str, port: int, timeout: float) -> list[tuple[Any, ...]]:
    """socket.getaddrinfo for a TCP connection, given up after `timeout` s (TimeoutError).

    The lookup runs in a daemon thread; one that hangs is left behind, never waited for.
    """
    answer: list[Any] = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller's thread
            answer.append(exc)

    worker = threading.Thread(target=lookup, name="mmkit-resolve", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    if not answer:
        raise TimeoutError(f"resolving {host} took longer than the time left")
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return list(answer[0])
