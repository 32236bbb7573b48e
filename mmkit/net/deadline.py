"""A total deadline that bounds every blocking socket operation, not just each phase.

httpx's timeouts are per operation: a server that sends one header line or one body byte just
inside the read timeout keeps a request alive forever. Here a context variable holds the
monotonic time by which the current exchange must end, and a wrapper around httpcore's network
backend cuts every connect, TLS handshake, read and write to what is left of it. Context
variables are per thread and per asyncio task, so sync and async clients share the mechanism and
concurrent calls never see each other's deadline.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from mmkit.net.resolve import resolve

_DEADLINE: ContextVar[float | None] = ContextVar("mmkit_deadline", default=None)
_UNSET = object()


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Every socket operation inside ends by the monotonic time `at` (None: no deadline).

    Never hold it across a `yield`: a generator may resume in another context.
    """
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def passed(at: float | None, slack: float = 0.05) -> bool:
    """True once the deadline `at` is (about) reached: a timeout then means the total budget."""
    return at is not None and time.monotonic() >= at - slack


def _cut(timeout: float | None, error: type[Exception]) -> float | None:
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the total time budget is used up")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        cut = _cut(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, cut))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _Readable:
    """Whether recv() on a socket would return at once (data, or b"" from a server that hung
    up), as httpcore's own check answers it (a closed socket counts as readable: expired).
    The poll object is made once per socket: httpcore asks on every request assignment."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._poller: Any = None
        if getattr(select, "poll", None) is not None:  # not on Windows, or under eventlet
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)

    def __call__(self) -> bool:
        fd = self._sock.fileno()
        if fd < 0:
            return True
        if self._poller is None:
            ready, _, _ = select.select([fd], [], [], 0)
            return bool(ready)
        return bool(self._poller.poll(0))


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        cut = _cut(timeout, httpcore.ConnectTimeout)
        if _DEADLINE.get() is None or _is_address(host):
            return _Stream(self._inner.connect_tcp(host, port, cut, local_address, socket_options))
        # getaddrinfo has no timeout: look the name up within the time left, then connect to
        # each address in the resolver's order, as socket.create_connection does. (TLS still
        # names the host: httpcore passes it to start_tls on its own.)
        try:
            infos = resolve(host, port, cut if cut is not None else 0.0)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} used up the total time") from None
        except OSError as exc:  # socket.gaierror: the client reports "could not resolve host"
            raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception | None = None
        for address in dict.fromkeys(str(info[4][0]) for info in infos):
            try:
                left = _cut(timeout, httpcore.ConnectTimeout)
                inner = self._inner.connect_tcp(address, port, left, local_address, socket_options)
                return _Stream(inner)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next address may answer
        raise failure or httpcore.ConnectError(f"{host} resolved to no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        cut = _cut(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, cut, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: Any = _UNSET
        self._readable: _Readable | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        cut = _cut(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, cut))

    def get_extra_info(self, info: str) -> Any:
        # httpcore asks every idle connection whether it is readable each time it assigns a
        # request, and anyio finds the socket for that by building a dict of attributes and
        # calling getpeername(): a quarter of the CPU of a busy AsyncClient. The socket a
        # stream wraps never changes, so it is looked up once.
        if info not in ("socket", "is_readable"):
            return self._inner.get_extra_info(info)
        if self._socket is _UNSET:
            self._socket = self._inner.get_extra_info("socket")
            if self._socket is not None and self._socket.fileno() >= 0:
                self._readable = _Readable(self._socket)
        if info == "socket":
            return self._socket
        if self._readable is None:  # a stream without a socket: ask it
            return self._inner.get_extra_info(info)
        return self._readable()


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        cut = _cut(timeout, httpcore.ConnectTimeout)
        inner = await self._inner.connect_tcp(host, port, cut, local_address, socket_options)
        return _AsyncStream(inner)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        cut = _cut(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_unix_socket(path, cut, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Make every pool of an httpx client mmkit created honour `deadline()`.

    httpx has no public hook for a network backend, so this wraps the one its pools hold
    (`_transport._pool._network_backend`, stable since httpx 0.18). False if the layout is not
    there (a custom transport): the client then keeps httpx's per-phase timeouts only.
    """
    transports = [getattr(client, "_transport", None)]
    transports += list(getattr(client, "_mounts", {}).values())
    done = False
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None or isinstance(backend, (_Backend, _AsyncBackend)):
            continue
        if isinstance(backend, httpcore.AsyncNetworkBackend):
            pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]
        else:
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
        done = True
    return done
