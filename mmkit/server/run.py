"""Running the server: uvicorn in a background thread (tests, the `echo` model) or in front."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import importlib.util
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from mmkit.errors import ConfigError
from mmkit.server.app import create_app
from mmkit.server.faults import ABORT_EXTENSION, ServerStats, StatsCounter
from mmkit.server.options import DEFAULT_OPTIONS, ServerOptions

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0

_shared_lock = threading.Lock()
_shared: RunningServer | None = None


class RunningServer:
    """A server running in a daemon thread; `with serve_in_thread() as server:` stops it."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, base_url: str, stats: StatsCounter
    ) -> None:
        self._server = server
        self._thread = thread
        self._stats = stats
        self.base_url = base_url

    @property
    def stats(self) -> ServerStats:
        """A snapshot of the request counts (total, answered, by_status, dropped, faults)."""
        return self._stats.snapshot()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningServer {self.base_url} {'running' if self.running else 'stopped'}>"


def serve_in_thread(
    options: ServerOptions = DEFAULT_OPTIONS, host: str = "127.0.0.1", port: int = 0
) -> RunningServer:
    """Start uvicorn in a daemon thread with its own loop; return once it accepts connections.

    port=0 picks a free port; the address is `RunningServer.base_url`.
    """
    app = create_app(options)
    sock = _bind(host, port, options.backlog)
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host, options))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from uvicorn included: report it, don't die
            failure.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=run, name=f"mmkit-server-{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            reason = f": {failure[0]!r}" if failure else ""
            raise ConfigError(f"the mmkit conformance server did not start on {host}{reason}")
        time.sleep(0.005)
    return RunningServer(server, thread, _base_url(host, bound_port), app.state.stats)


def shared_echo_server() -> RunningServer:
    """The process's one default server (for the `echo` model), started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = serve_in_thread()
            atexit.register(_shared.stop)
        return _shared


def serve_forever(
    options: ServerOptions = DEFAULT_OPTIONS,
    host: str = "127.0.0.1",
    port: int = 8000,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C), for `mmkit serve`.

    `announce(base_url)` is called once the port is bound (useful with port=0).
    """
    sock = _bind(host, port, options.backlog)
    if announce is not None:
        announce(_base_url(host, sock.getsockname()[1]))
    server = uvicorn.Server(_config(create_app(options), host, options))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


# --- internals ---------------------------------------------------------------------------------


def _config(app: Starlette, host: str, options: ServerOptions) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http=_protocol(options),
        loop="auto",  # uvloop when installed
        timeout_graceful_shutdown=2,
        # One over the connections kept: requests on a connection past the limit get 503.
        limit_concurrency=options.max_connections + 1,
        timeout_keep_alive=options.keep_alive_timeout,
        h11_max_incomplete_event_size=options.max_header_bytes,  # the h11 fallback's own cap
        backlog=options.backlog,
    )


def _bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bind here, not in uvicorn: errors reach the caller, and port 0 is known at once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve server host {host!r}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port"
        ) from None
    return sock


def _base_url(host: str, port: int) -> str:
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    return f"http://{host}:{port}"


# A connection idle this long may be closed to make room (a younger one is still sending).
_SHED_GRACE = 0.5
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def _base_protocol() -> Any:
    """uvicorn's "auto" HTTP protocol (httptools if importable, else h11), chosen here so that
    the chosen class can be extended."""
    if importlib.util.find_spec("httptools") is not None:
        module, name = "uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol"
    else:
        module, name = "uvicorn.protocols.http.h11_impl", "H11Protocol"
    return getattr(importlib.import_module(module), name)


def _protocol(options: ServerOptions) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with the limits uvicorn lacks, and a way for the ASGI app to abort
    the connection (`scope["extensions"]["mmkit.abort"]`).

    uvicorn times nothing until a first response: a client that connects and sends nothing, or
    trickles its headers, holds a connection forever (20k of them locked everyone out). Here
    headers must arrive within `header_timeout` and `max_header_bytes`, and past
    `max_connections` a new connection closes the longest-idle ones with no request in progress
    (idle for `_SHED_GRACE` at least); when none is idle, requests get 503 from uvicorn, and past
    twice `max_connections` new connections are closed at once.
    """
    header_timeout = options.header_timeout
    max_header_bytes = options.max_header_bytes
    max_connections = options.max_connections

    class MmkitProtocol(_base_protocol()):  # type: ignore[misc]
        app: ASGIApp
        cycle: Any
        connections: set[Any]
        loop: asyncio.AbstractEventLoop
        transport: asyncio.Transport

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self.app = _with_abort(self.app, transport)
            self._header_timer: asyncio.TimerHandle | None = None
            self._header_cycle: Any = None
            self._header_bytes = 0
            self._idle_since = self.loop.time()
            self._arm_header_timer()
            self._shed_idle()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self._awaiting_headers():
                self._arm_header_timer()  # the first bytes of a request on a kept-alive connection
            super().data_received(data)
            if self._header_timer is None or self.transport.is_closing():
                return
            if self.cycle is not self._header_cycle:  # headers complete: a new request began
                self._header_timer.cancel()
                self._header_timer = None
                return
            self._header_bytes += len(data)
            if self._header_bytes > max_header_bytes:
                text = f"The request headers are over the server's {max_header_bytes:,}-byte limit"
                body = text.encode()
                self.transport.write(_TOO_LARGE % (len(body), body))
                self._close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._idle_since = self.loop.time()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def _awaiting_headers(self) -> bool:
            return self.cycle is None or bool(self.cycle.response_complete)

        def _arm_header_timer(self) -> None:
            self._header_cycle = self.cycle
            self._header_bytes = 0
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is self._header_cycle and not self.transport.is_closing():
                self._close()

        def _shed_idle(self) -> None:
            if len(self.connections) <= max_connections:
                return
            now = self.loop.time()
            idle = [
                c
                for c in self.connections
                if c is not self and c._awaiting_headers() and now - c._idle_since >= _SHED_GRACE
            ]
            idle.sort(key=lambda c: c._idle_since)
            for connection in idle[: len(self.connections) - max_connections]:
                connection._close()
            if len(self.connections) > 2 * max_connections:
                self._close()  # a flood of new connections: refused, so sockets stay bounded
            # else uvicorn answers this connection's requests 503 (limit_concurrency)

        def _close(self) -> None:
            """Close now, and stop counting it at once (uvicorn's count waits for the OS)."""
            self.transport.close()
            self.connections.discard(self)

    return MmkitProtocol


def _with_abort(app: ASGIApp, transport: asyncio.Transport) -> ASGIApp:
    """One wrapper a connection: each request's scope gets that connection's abort."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions")
        if extensions is None:
            extensions = scope["extensions"] = {}
        extensions[ABORT_EXTENSION] = transport.abort
        await app(scope, receive, send)

    return wrapped
