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
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host))
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
    sock = _bind(host, port)
    if announce is not None:
        announce(_base_url(host, sock.getsockname()[1]))
    server = uvicorn.Server(_config(create_app(options), host))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


# --- internals ---------------------------------------------------------------------------------


def _config(app: Starlette, host: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http=_droppable_protocol(),
        loop="auto",  # uvloop when installed
        timeout_graceful_shutdown=2,
    )


def _bind(host: str, port: int) -> socket.socket:
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
        sock.listen(2048)
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


_protocol_class: type[asyncio.Protocol] | None = None


def _droppable_protocol() -> type[asyncio.Protocol]:
    """uvicorn's own HTTP protocol (httptools if importable, else h11) that also offers the
    ASGI app a way to abort the connection: `scope["extensions"]["mmkit.abort"]`."""
    global _protocol_class
    if _protocol_class is not None:
        return _protocol_class
    # uvicorn's "auto" choice, made here so the chosen class can be extended.
    if importlib.util.find_spec("httptools") is not None:
        module, name = "uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol"
    else:
        module, name = "uvicorn.protocols.http.h11_impl", "H11Protocol"
    base: Any = getattr(importlib.import_module(module), name)

    class DroppableProtocol(base):  # type: ignore[misc]
        app: ASGIApp

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self.app = _with_abort(self.app, transport)

    _protocol_class = DroppableProtocol
    return DroppableProtocol


def _with_abort(app: ASGIApp, transport: asyncio.Transport) -> ASGIApp:
    """One wrapper a connection: each request's scope gets that connection's abort."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions")
        if extensions is None:
            extensions = scope["extensions"] = {}
        extensions[ABORT_EXTENSION] = transport.abort
        await app(scope, receive, send)

    return wrapped
