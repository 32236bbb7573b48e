"""Request counting and fault injection, as a raw ASGI middleware in front of the routes.

Faults apply to POST requests (the chat routes); GETs such as /v1/models are only counted. The
order for each POST: `latency`, then `script`, then `fail_first`, then one random draw split
between `rate_drop`, `rate_429` and `rate_5xx`.

A dropped connection gets no response at all. The server's protocol (see run.py) puts
`transport.abort` into `scope["extensions"]["mmkit.abort"]`; the middleware calls it and waits for
the disconnect, so uvicorn sees a vanished client and sends nothing (no 500). Under any other
server the fallback starts a response and abandons it, which closes the connection mid-reply.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mmkit.server.options import ServerOptions
from mmkit.server.replies import Rejection, api_of, error_response, seconds_header, status_message

ABORT_EXTENSION = "mmkit.abort"
_DROP = 0


@dataclass(frozen=True)
class ServerStats:
    """Counts since the server started.

    total: requests received; answered: responses with a 2xx status; by_status: every response
    by status; dropped: connections closed on purpose without a response; faults: injected
    error responses (429/5xx/script/fail_first, drops not included).
    """

    total: int = 0
    answered: int = 0
    dropped: int = 0
    faults: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class StatsCounter:
    """Written by the server's loop, read from any thread: a lock keeps snapshots consistent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = self._answered = self._dropped = self._faults = 0
        self._by_status: dict[int, int] = {}

    def request(self) -> None:
        with self._lock:
            self._total += 1

    def response(self, status: int, fault: bool = False) -> None:
        with self._lock:
            self._by_status[status] = self._by_status.get(status, 0) + 1
            if 200 <= status < 300:
                self._answered += 1
            if fault:
                self._faults += 1

    def drop(self) -> None:
        with self._lock:
            self._dropped += 1

    def snapshot(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                self._total, self._answered, self._dropped, self._faults, dict(self._by_status)
            )


class FaultMiddleware:
    def __init__(self, app: ASGIApp, options: ServerOptions, stats: StatsCounter) -> None:
        self.app = app
        self.options = options
        self.stats = stats
        self._random = random.Random(options.seed)
        self._seen = 0  # POSTs so far: indexes `script` and `fail_first`
        self._any_fault = bool(
            options.latency
            or options.script
            or options.fail_first
            or options.rate_429
            or options.rate_5xx
            or options.rate_drop
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.stats.request()
        if self._any_fault and scope["method"] == "POST":
            status = await self._fault_for_this_request()
            if status == _DROP:
                await self._drop(scope, receive, send)
                return
            if status is not None:
                await self._refuse(scope, receive, send, status)
                return
        await self.app(scope, receive, self._counting(send))

    def _counting(self, send: Send) -> Send:
        stats = self.stats

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                stats.response(message["status"])
            await send(message)

        return counting_send

    async def _fault_for_this_request(self) -> int | None:
        """The injected status for this request, `_DROP`, or None to serve it."""
        options = self.options
        index = self._seen
        self._seen += 1
        if options.latency:
            await asyncio.sleep(options.latency)
        if index < len(options.script):
            scripted = options.script[index]
            return None if 200 <= scripted < 300 else scripted
        if index < len(options.script) + options.fail_first:
            return options.fail_status
        draw = self._random.random()
        for status, rate in (
            (_DROP, options.rate_drop),
            (429, options.rate_429),
            (503, options.rate_5xx),
        ):
            if draw < rate:
                return status
            draw -= rate
        return None

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int) -> None:
        headers = {}
        if status == 429:
            headers["retry-after"] = seconds_header(self.options.retry_after)
        message = f"{status_message(status)} (injected by the mmkit conformance server)"
        code = "rate_limit_exceeded" if status == 429 else None
        response = error_response(api_of(scope["path"]), Rejection(status, message, code, headers))
        self.stats.response(status, fault=True)
        await response(scope, receive, send)

    async def _drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.stats.drop()
        abort: Callable[[], None] | None = scope.get("extensions", {}).get(ABORT_EXTENSION)
        if abort is None:
            # Not our protocol: a started, never finished response is the closest thing.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            return
        abort()
        # Wait until the server has noticed, so it does not answer 500 for us.
        for _ in range(100):
            message = await receive()
            if message["type"] == "http.disconnect":
                return
