"""What the Anthropic and Gemini routes share: app.py's body readers, handed to them (app.py
registers the routes, so the routes do not import app.py), and the checked request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from mmkit.server.options import ServerOptions
from mmkit.server.parse import Plan
from mmkit.server.replies import Rejection


@dataclass(frozen=True)
class Readers:
    """app.py's bounded body read, its JSON parse, and its threaded plan-and-decode."""

    read_body: Callable[[Request, ServerOptions], Awaitable[bytes]]
    json_body: Callable[[bytes], Mapping[str, Any]]
    parsed: Callable[[bytes, Callable[[bytes], Any]], Awaitable[Any]]


@dataclass
class NativeChat:
    """A request checked and planned (media not decoded yet), as app.py's `_parsed` takes it."""

    plan: Plan
    stream: bool
    max_tokens: int | None
    model: str
    candidates: int = 1  # Gemini's candidateCount: the answer, that many times


def flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Rejection(400, f"{name}: must be true or false")
    return value


def positive_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Rejection(400, f"{name}: must be a positive integer")
    return value
