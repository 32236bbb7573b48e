"""Client and AsyncClient: twins on httpx that share everything but I/O (`_BaseClient`).

One client is one model on one provider, with a pooled keep-alive connection set. Per call it
encodes the messages once through the provider's wire format, dumps JSON once, and sends through
a retry controller built once. Keys live in a `Secret` and become a header only at send time.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import json
import os
import socket
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import httpx
from tenacity import AsyncRetrying, Retrying

from mmkit import formats
from mmkit.errors import (
    AuthError,
    BadRequestError,
    ConnectionError,
    InvalidOptionError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
)
from mmkit.models.plan import lookup
from mmkit.net.body import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    BoundedDecoder,
    CorruptBody,
    UnsupportedEncoding,
)
from mmkit.net.deadline import deadline, install, passed
from mmkit.offload import WouldBlock, cached_only
from mmkit.transport.prepared import Prepared, RequestBuilder, VideoMode, build_body
from mmkit.transport.providers import Provider, resolve
from mmkit.transport.reply import AsyncStream, Reply, Stream
from mmkit.transport.retry import (
    RetryPolicy,
    TimeoutLike,
    TotalTimeoutError,
    as_timeout,
    is_retryable,
    parse_retry_after,
)
from mmkit.transport.secret import Secret, guard_logs

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mmkit.media.fetch import FetchPolicy

# httpx's own defaults (100 connections, 20 kept idle). Keeping more idle costs more than it
# saves: httpcore's pool bookkeeping grows with the square of its connections (measured: 64 kept
# connections halve throughput at concurrency 64).
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
# A chat reply is text: 32 MiB is far past any real one, and still bounds a hostile server.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Threads that encode media for AsyncClients: Pillow releases the GIL while it decodes and
# resizes, so two per core keep the cores busy; more only contend with the event loop for the
# GIL (captioning photos on 2 cores: 4 threads 1.00x a thread pool of Clients, 8 threads 0.95x).
_ENCODE_THREADS = min(8, max(2, 2 * (os.cpu_count() or 1)))
# An error's body is read this far at most: only its first _SHOWN characters are ever shown.
_ERROR_BODY_BYTES = 256 * 1024

_STATUS_ERRORS: dict[int, type[TransportError]] = {
    400: BadRequestError,
    413: BadRequestError,
    415: BadRequestError,
    422: BadRequestError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    408: TimeoutError,
}
_TIMEOUT_PHASES: dict[type[Exception], str] = {
    httpx.ConnectTimeout: "connecting",
    httpx.ReadTimeout: "waiting for the reply",
    httpx.WriteTimeout: "sending the request",
    httpx.PoolTimeout: "waiting for a free connection",
}
_Client = TypeVar("_Client", bound="_BaseClient")
_T = TypeVar("_T")
_E = TypeVar("_E", bound=BaseException)


class ClientOptions(TypedDict, total=False):
    """The keyword options both twins take (see `_BaseClient`)."""

    api_key: str | Secret | None
    base_url: str | None
    timeout: TimeoutLike
    max_retries: int
    backoff: float
    max_backoff: float
    max_retry_after: float
    max_response_bytes: int
    drop_params: bool
    params: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    video: VideoMode | None
    fetch: FetchPolicy | None
    media_model: str | None


class _Call:
    """One chat call: its URL and body (built once), and what the attempts share."""

    __slots__ = (
        "attempts",
        "cap",
        "content",
        "deadline",
        "replay",
        "timeout",
        "total",
        "url",
    )

    def __init__(
        self, url: httpx.URL, content: bytes, timeout: Any, total: float | None, cap: int
    ) -> None:
        self.url = url
        self.content = content
        self.timeout = timeout
        self.total = total
        self.cap = cap
        self.deadline = None if total is None else time.monotonic() + total
        self.attempts = 0
        self.replay: TransportError | None = None  # the first failure, handed to tenacity


class _BaseClient:
    """Everything a client does that is not I/O: routing, params, bodies, errors, retry policy.

    model: `bytez/<org>/<model>`, `openai/<model>`, `echo`, or any name with `base_url=` (an
    OpenAI-compatible server). api_key: else the provider's environment variable. timeout: a
    number of seconds is the budget of the whole call, retries included; a Timeout sets each
    phase and `total` (default: connect 10 s, each read 120 s, no total). max_retries: retries
    after the first attempt; backoff/max_backoff: the exponential jitter's first step and cap;
    max_retry_after: the cap on a server's Retry-After. max_response_bytes: the most a reply may
    take once decoded (default 32 MiB). drop_params: drop (and log) parameters the provider
    cannot take instead of raising. params: default model parameters. headers: extra request
    headers. video: "native" sends videos as videos to an OpenAI-compatible server that reads
    them (vLLM, LiteLLM), "frames" as labelled sampled frames; default: the wire format's
    (frames for OpenAI's shape, since OpenAI's own API reads no video; video for Bytez).
    fetch: the FetchPolicy for media URLs the target needs inlined (an audio URL for OpenAI,
    `inline=True` parts); default: public hosts only. `chat(..., fetch=)` sets it per call.
    media_model: the model whose processor images are sized for (mmkit.models); default: the
    model itself when mmkit has its rule (`bytez/google/gemma-3-4b-it` sends 896x896), else none.
    Name the real model for a proxy alias.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        drop_params: bool = False,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        video: VideoMode | None = None,
        fetch: FetchPolicy | None = None,
        media_model: str | None = None,
    ) -> None:
        if video not in (None, "native", "frames"):
            raise InvalidOptionError(f"video={video!r}: use 'native' or 'frames'")
        self.fetch = _check_fetch(fetch)
        provider, model_id = resolve(model, base_url)
        self.model = model
        self.provider: Provider = provider
        self.model_id = model_id
        self.base_url = provider.resolve_base_url(base_url)
        self._key = provider.api_key(api_key, base_url is not None, model_id)
        if self._key is not None:  # httpcore logs response headers at DEBUG: they may echo it
            guard_logs(self._key)
        self.max_response_bytes = _check_cap(max_response_bytes)
        # parsed once: httpx parses a str URL on every request (~5% of a call's CPU)
        self._url = httpx.URL(provider.url(self.base_url, model_id))
        self._stream_url = httpx.URL(provider.stream_url(self.base_url, model_id))
        self._format = formats.get(provider.wire_format)
        self.timeout = as_timeout(timeout)
        self._httpx_timeout = self.timeout.to_httpx()
        self.retry_policy = RetryPolicy(
            max_retries, backoff, max_backoff, max_retry_after, self.timeout.total
        )
        self.drop_params = drop_params
        self.video: VideoMode | None = video
        if media_model is None and lookup(model_id) is not None:
            media_model = model_id  # a model mmkit knows is encoded for without asking
        self.media_model = media_model
        self.params: dict[str, Any] = dict(params or {})
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            # only what the body reader decodes under the byte cap (httpx would add br, zstd)
            "Accept-Encoding": ACCEPT_ENCODING,
            **provider.extra_headers,
            **(headers or {}),
        }
        self._retryings: dict[int, Any] = {}

    @classmethod
    def from_config(cls: type[_Client], path: str | Path, alias: str, **overrides: Any) -> _Client:
        """A client for `alias` in a LiteLLM-style `model_list` file; keywords override it."""
        from mmkit.transport.config import load_alias

        entry = load_alias(path, alias)
        settings: dict[str, Any] = {
            "api_key": entry.api_key,
            "base_url": entry.base_url,
            **entry.settings,
            **overrides,
        }
        settings["params"] = {**entry.params, **(overrides.get("params") or {})}
        return cls(entry.model, **settings)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, provider={self.provider.name!r}, "
            f"base_url={self.base_url!r}, api_key={self._key!r})"
        )

    # --- building a call -----------------------------------------------------------------------

    def _prepare(
        self,
        messages: Any,
        params: dict[str, Any],
        stream: bool,
        drop_params: bool | None,
        timeout: TimeoutLike,
        max_response_bytes: int | None = None,
        fetch: FetchPolicy | None = None,
    ) -> _Call:
        if "stream" in params:
            raise InvalidOptionError("stream= is not a chat() parameter; call stream() instead")
        if isinstance(messages, Prepared):
            content = self._prepared(messages, params, stream)
        else:
            merged = {**self.params, **params} if self.params else params
            drop = self.drop_params if drop_params is None else drop_params
            content = build_body(
                self.provider,
                self.model_id,
                messages,
                merged,
                stream,
                drop,
                self.video,
                self.fetch if fetch is None else _check_fetch(fetch),
                self.media_model,
            )
        cap = self.max_response_bytes
        if max_response_bytes is not None:
            cap = _check_cap(max_response_bytes)
        url = self._stream_url if stream else self._url
        if timeout is None:
            return _Call(url, content, self._httpx_timeout, self.timeout.total, cap)
        chosen = as_timeout(timeout)
        return _Call(url, content, chosen.to_httpx(), chosen.total, cap)

    def builder(self) -> RequestBuilder:
        """A picklable recipe for this client's request bodies, to build them in other
        processes (`builder.build(messages)`, then `chat(prepared)`)."""
        return RequestBuilder(
            self.model,
            self.base_url,
            dict(self.params),
            self.drop_params,
            self.video,
            self.fetch,
            self.media_model,
        )

    def _prepared(self, prepared: Prepared, params: dict[str, Any], stream: bool) -> bytes:
        if params:
            raise InvalidOptionError(
                f"a Prepared request carries its parameters; pass {', '.join(sorted(params))} "
                "to RequestBuilder.build instead"
            )
        if prepared.model != self.model or prepared.stream != stream:
            raise InvalidOptionError(
                f"this Prepared request was built for {prepared.model!r} "
                f"({'stream' if prepared.stream else 'chat'}); this client sends to "
                f"{self.model!r} ({'stream' if stream else 'chat'})"
            )
        return prepared.content

    def _adopt_headers(self, http: httpx.Client | httpx.AsyncClient, owned: bool) -> None:
        """An httpx client of mmkit's own carries the fixed headers, so a request passes only
        its key: httpx merges a request's headers into its client's on every send, searching
        the list once per header (8 µs of a call's ~450 µs of CPU with four). A client the caller
        shares is left as it is: its requests carry every header."""
        self._per_request = self._headers
        if owned:
            http.headers.update(self._headers)
            self._per_request = {}

    def _send_headers(self) -> dict[str, str]:
        if self._key is None:
            return self._per_request
        return {**self._per_request, **self.provider.auth_headers(self._key)}

    def _attempt_timeout(self, call: _Call) -> httpx.Timeout:
        """The call's timeout, each phase cut to what remains of its total budget."""
        if call.deadline is None:
            return call.timeout  # type: ignore[no-any-return]
        remaining = call.deadline - time.monotonic()
        if remaining <= 0:
            raise TotalTimeoutError(
                f"{self._where()}: the total timeout of {call.total} s is used up",
                provider=self.provider.name,
                model=self.model_id,
            )
        t: httpx.Timeout = call.timeout
        return httpx.Timeout(
            connect=_cap(t.connect, remaining),
            read=_cap(t.read, remaining),
            write=_cap(t.write, remaining),
            pool=_cap(t.pool, remaining),
        )

    def _retrying_for(self, max_retries: int | None) -> Any:
        if max_retries is None:
            max_retries = self.retry_policy.max_retries
        found = self._retryings.get(max_retries)
        if found is None:
            policy = self.retry_policy
            if max_retries != policy.max_retries:
                policy = RetryPolicy(
                    max_retries,
                    policy.backoff,
                    policy.max_backoff,
                    policy.max_retry_after,
                    policy.total,
                )
            found = self._retryings[max_retries] = self._make_retrying(policy)
        return found

    def _make_retrying(self, policy: RetryPolicy) -> Any:
        raise NotImplementedError

    # --- reading answers and failures ----------------------------------------------------------

    def _where(self) -> str:
        if self.model_id == self.provider.name:  # the echo model: "echo", not "echo echo"
            return self.model_id
        return f"{self.provider.name} {self.model_id}"

    def _reply(self, call: _Call, answer: tuple[httpx.Response, bytearray]) -> Reply:
        response, content = answer
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
            text = content[:4096].decode("utf-8", "replace")
            raise ServerError(
                f"{self._where()}: HTTP {response.status_code} with a body that is not JSON: "
                f"{self._scrub(text)[:200]!r}",
                status=response.status_code,
                provider=self.provider.name,
                model=self.model_id,
            ) from None
        try:
            return self.provider.reply(
                data, self.model_id, self.provider.keep_headers(response.headers), call.attempts
            )
        except TransportError as exc:  # an error body sent with 200 may quote the key
            self._scrub_error(exc)
            raise

    # --- reading bodies: raw bytes decoded under the cap, the same for both twins --------------

    def _decoder(self, call: _Call, response: httpx.Response) -> BoundedDecoder:
        """The decoder for this body: the call's cap, or a small one for an error's text."""
        cap = call.cap if response.status_code < 300 else min(call.cap, _ERROR_BODY_BYTES)
        try:
            # a response read already (httpx.MockTransport's) holds decoded bytes
            encoding = (
                None if response.is_stream_consumed else response.headers.get("content-encoding")
            )
            return BoundedDecoder(encoding, cap)
        except UnsupportedEncoding as exc:
            raise TransportError(
                f"{self._where()}: {exc}", status=response.status_code, **self._origin()
            ) from None

    def _take(
        self, call: _Call, response: httpx.Response, decoder: BoundedDecoder, raw: bytes | None
    ) -> list[bytes] | None:
        """Decode one raw chunk (None: the body ended). None when an error's body has been read
        as far as it will be shown; TransportError when a reply passes the cap."""
        self._check_deadline(call)
        try:
            return list(decoder.feed(raw) if raw is not None else decoder.end())
        except BodyTooLarge:
            if response.status_code >= 300:
                return None
            raise TransportError(
                f"{self._where()}: the reply is over the {call.cap}-byte cap "
                "(max_response_bytes); raise max_response_bytes= if replies this large are "
                "expected",
                status=response.status_code,
                **self._origin(),
            ) from None
        except CorruptBody as exc:
            raise ServerError(
                f"{self._where()}: the reply could not be decoded ({exc})",
                status=response.status_code,
                **self._origin(),
            ) from None

    def _check_deadline(self, call: _Call) -> None:
        # also bounds a shared http_client whose pool mmkit could not wrap
        if call.deadline is not None and time.monotonic() >= call.deadline:
            raise self._total_timeout(call, "reading the reply")

    def _total_timeout(self, call: _Call, phase: str) -> TotalTimeoutError:
        return TotalTimeoutError(
            f"{self._where()}: the total timeout of {call.total:g} s is used up ({phase}, "
            f"after {call.attempts} attempt{'s' if call.attempts != 1 else ''}); raise "
            "timeout= or check that the server is up",
            **self._origin(),
        )

    def _origin(self) -> dict[str, Any]:
        return {"provider": self.provider.name, "model": self.model_id}

    def _status_error(
        self, status: int, headers: httpx.Headers, content: bytes | bytearray
    ) -> TransportError:
        """The error-tree class for an HTTP failure, with the server's own message."""
        text = self._scrub(content.decode("utf-8", "replace"))  # before any cut to length
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = None
        message = f"{self._where()}: HTTP {status}: "
        where: dict[str, Any] = {"provider": self.provider.name, "model": self.model_id}
        if status < 400:  # redirects are not followed: the key must not travel elsewhere
            location = self._scrub(headers.get("location", "?"))[:_SHOWN]
            return TransportError(
                f"{message}redirected to {location}; use that as base_url", status=status, **where
            )
        message += self._scrub(self.provider.error_message(data, text))[:_SHOWN]
        retry_after = parse_retry_after(headers.get("retry-after"))
        if status == 429:
            return RateLimitError(message, retry_after=retry_after, status=status, **where)
        cls = (
            self.provider.error_class(status, data)
            or _STATUS_ERRORS.get(status)
            or (ServerError if status >= 500 else TransportError)
        )
        # 503s may say when to come back too; the retry wait reads it
        exc = cls(message, status=status, retry_after=retry_after, **where)
        return exc

    def _transport_failure(self, exc: httpx.HTTPError, call: _Call) -> TransportError:
        """httpx's failure as the error tree: timeouts, dropped connections, the rest."""
        where: dict[str, Any] = {"provider": self.provider.name, "model": self.model_id}
        detail = self._scrub(str(exc)) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            phase = _TIMEOUT_PHASES.get(type(exc), "waiting")
            if passed(call.deadline):
                return self._total_timeout(call, phase)
            return TimeoutError(f"{self._where()}: timed out {phase} ({detail})", **where)
        unresolved = _unresolved(exc)
        if unresolved is not None:
            host = call.url.host
            # EAI_AGAIN is a resolver hiccup worth retrying; "no such name" is not
            cls = ServerError if unresolved.errno == socket.EAI_AGAIN else TransportError
            return cls(
                f"{self._where()}: could not resolve host {host} ({unresolved.strerror}); "
                "check base_url and your network",
                status=None,
                **where,
            )
        if isinstance(exc, httpx.ConnectError):  # nothing listens there, or it is unreachable
            refused = _cause(exc, ConnectionRefusedError) is not None
            why = "the connection was refused: nothing listens there" if refused else detail
            return ConnectionError(
                f"{self._where()}: could not connect to {_shown(call.url)} ({why}); is the "
                "server running? Start it, or check base_url= and your network",
                status=None,
                **where,
            )
        if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
            return ServerError(
                f"{self._where()}: the connection failed or was dropped "
                f"({type(exc).__name__}: {detail})",
                status=None,
                **where,
            )
        return TransportError(f"{self._where()}: {type(exc).__name__}: {detail}", **where)

    def _scrub(self, text: str) -> str:
        """Servers sometimes quote the key they refused; never pass it on, in any form it can
        take (JSON-escaped, URL-encoded, case-changed, base64: see Secret.scrub)."""
        return self._key.scrub(text) if self._key is not None else text

    def _scrub_error(self, exc: TransportError) -> None:
        """Scrub the key from the message of an error a provider's parser raised."""
        exc.args = tuple(self._scrub(a)[:_SHOWN] if isinstance(a, str) else a for a in exc.args)


# How much of a server's error text an exception shows (cut after the key is scrubbed).
_SHOWN = 500


def _shown(url: httpx.URL) -> str:
    """The URL without its query: scheme, host, port and path."""
    return str(url.copy_with(query=None, fragment=None))


def _cap(value: float | None, remaining: float) -> float:
    return remaining if value is None else min(value, remaining)


_ENCODERS: Any = None
_ENCODERS_LOCK = threading.Lock()


def _encoders() -> Any:
    """The pool AsyncClients encode media in, shared by all of them and made on first use."""
    global _ENCODERS
    with _ENCODERS_LOCK:
        if _ENCODERS is None:
            from concurrent.futures import ThreadPoolExecutor

            _ENCODERS = ThreadPoolExecutor(_ENCODE_THREADS, thread_name_prefix="mmkit-encode")
        return _ENCODERS


def _light(messages: Any) -> bool:
    """Nothing to encode: a bare prompt, or a body built ahead (Prepared)."""
    return isinstance(messages, (str, Prepared))


def _check_fetch(value: Any) -> FetchPolicy | None:
    if value is None:
        return None
    from mmkit.media.fetch import FetchPolicy  # the guarded fetch loads when it is used

    if not isinstance(value, FetchPolicy):
        raise InvalidOptionError(
            f"fetch= takes a mmkit.FetchPolicy (or None), not {type(value).__name__}; e.g. "
            "fetch=mmkit.FetchPolicy(allow_private=('127.0.0.1',))"
        )
    return value


def _check_cap(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidOptionError(
            f"max_response_bytes must be a positive number of bytes, not {value!r}"
        )
    return value


def _unresolved(exc: BaseException) -> socket.gaierror | None:
    """The DNS failure behind a connection error, if that is what it was."""
    return _cause(exc, socket.gaierror)


def _cause(exc: BaseException, kind: type[_E]) -> _E | None:
    """The `kind` error behind `exc`, if there is one (anyio hides a refusal behind "All
    connection attempts failed")."""
    seen: BaseException | None = exc
    for _ in range(8):  # httpx wraps httpcore, which wraps anyio's or the socket's error
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _and_end(response: httpx.Response) -> Iterator[bytes | None]:
    """The raw chunks, then None: the decoder's cue to give what it still holds."""
    if response.is_stream_consumed:  # read already (httpx.MockTransport): decoded bytes
        yield response.content
    else:
        yield from response.iter_raw()
    yield None


async def _aand_end(response: httpx.Response) -> AsyncIterator[bytes | None]:
    if response.is_stream_consumed:
        yield response.content
    else:
        async for chunk in response.aiter_raw():
            yield chunk
    yield None


def _text_decoder(response: httpx.Response) -> codecs.IncrementalDecoder:
    """Text as it streams: multi-byte characters may be split across chunks."""
    try:
        factory = codecs.getincrementaldecoder(response.charset_encoding or "utf-8")
    except LookupError:
        factory = codecs.getincrementaldecoder("utf-8")
    return factory(errors="replace")


# The first attempt runs bare, so a call that succeeds pays nothing for retry machinery. After a
# retryable failure tenacity takes over: its first "attempt" re-raises that failure, so its stop,
# wait (Retry-After) and attempt count all start from what really happened.


def _replay_first(attempt: Callable[[_Call], _T], call: _Call) -> _T:
    failure, call.replay = call.replay, None
    if failure is not None:
        raise failure
    return attempt(call)


async def _areplay_first(attempt: Callable[[_Call], Awaitable[_T]], call: _Call) -> _T:
    failure, call.replay = call.replay, None
    if failure is not None:
        raise failure
    return await attempt(call)


# --- the twins ----------------------------------------------------------------------------------


class Client(_BaseClient):
    """A chat client on `httpx.Client`: `chat()` for a Reply, `stream()` for text pieces.

    `transport=` takes an httpx transport (tests pass `httpx.MockTransport`); `http_client=`
    shares an existing httpx.Client (it is then not closed by `close()`).
    """

    def __init__(
        self,
        model: str,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        limits: httpx.Limits | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(model, **options)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            transport=transport,
            limits=limits or DEFAULT_LIMITS,
            timeout=self._httpx_timeout,
        )
        self._adopt_headers(self._http, self._owns_http)
        # every socket operation of a call ends by its total deadline (a no-op outside calls)
        install(self._http)
        self._retrying: Retrying = self._retrying_for(None)

    def _make_retrying(self, policy: RetryPolicy) -> Retrying:
        return policy.retrying()

    def chat(
        self,
        messages: Any,
        /,
        *,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        drop_params: bool | None = None,
        max_response_bytes: int | None = None,
        fetch: FetchPolicy | None = None,
        **params: Any,
    ) -> Reply:
        """Send the messages, return the Reply. Keywords are model parameters (`max_tokens`,
        `temperature`, any extra the provider takes) plus per-call timeout/retries/drop_params/
        max_response_bytes."""
        call = self._prepare(
            messages, params, False, drop_params, timeout, max_response_bytes, fetch
        )
        retrying = self._retrying if max_retries is None else self._retrying_for(max_retries)
        return self._reply(call, self._attempts(self._send, call, retrying))

    def stream(
        self,
        messages: Any,
        /,
        *,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        drop_params: bool | None = None,
        max_response_bytes: int | None = None,
        fetch: FetchPolicy | None = None,
        **params: Any,
    ) -> Stream:
        """Iterate for text pieces; `.reply` on the returned Stream once it is exhausted.
        Retries happen only before the first byte of the answer; the total timeout and the
        byte cap hold across the whole stream."""
        call = self._prepare(
            messages, params, True, drop_params, timeout, max_response_bytes, fetch
        )
        retrying = self._retrying if max_retries is None else self._retrying_for(max_retries)
        return Stream(lambda out: self._pieces(call, retrying, out))

    def _attempts(self, attempt: Callable[[_Call], _T], call: _Call, retrying: Retrying) -> _T:
        try:
            return attempt(call)
        except TransportError as exc:
            if not is_retryable(exc):
                raise
            call.replay = exc
        result: _T = retrying(_replay_first, attempt, call)
        return result

    def _send(self, call: _Call) -> tuple[httpx.Response, bytearray]:
        call.attempts += 1
        try:
            with deadline(call.deadline):
                response = self._request(call)
                try:
                    body = self._read(call, response)
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, call) from exc
        if response.status_code >= 300:
            raise self._status_error(response.status_code, response.headers, body)
        return response, body

    def _request(self, call: _Call) -> httpx.Response:
        request = self._http.build_request(
            "POST",
            call.url,
            content=call.content,
            headers=self._send_headers(),
            timeout=self._attempt_timeout(call),
        )
        return self._http.send(request, stream=True)

    def _read(self, call: _Call, response: httpx.Response) -> bytearray:
        """The whole body, decoded under the cap (an error's only as far as it is shown)."""
        decoder = self._decoder(call, response)
        body = bytearray()
        for raw in _and_end(response):
            pieces = self._take(call, response, decoder, raw)
            if pieces is None:
                break
            for piece in pieces:
                body += piece
        return body

    def _text(
        self, call: _Call, response: httpx.Response, decoder: BoundedDecoder
    ) -> Generator[str, None, None]:
        """The body as text pieces; reads happen in whoever calls next() (and its deadline)."""
        text = _text_decoder(response)
        for raw in _and_end(response):
            for piece in self._take(call, response, decoder, raw) or ():
                if decoded := text.decode(piece):
                    yield decoded
        if tail := text.decode(b"", final=True):
            yield tail

    def _open(self, call: _Call) -> tuple[httpx.Response, Iterator[str], str]:
        """Send, check the status and read the first chunk: the part a retry may repeat."""
        call.attempts += 1
        try:
            with deadline(call.deadline):
                response = self._request(call)
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, call) from exc
        try:
            with deadline(call.deadline):
                if response.status_code >= 300:
                    body = self._read(call, response)
                    raise self._status_error(response.status_code, response.headers, body)
                chunks = self._text(call, response, self._decoder(call, response))
                return response, chunks, next(chunks, "")
        except httpx.HTTPError as exc:
            response.close()
            raise self._transport_failure(exc, call) from exc
        except BaseException:
            response.close()
            raise

    def _pieces(self, call: _Call, retrying: Retrying, out: Stream) -> Generator[str, None, None]:
        response, chunks, chunk = self._attempts(self._open, call, retrying)
        parser = self.provider.stream_parser(self.model_id)
        try:
            while True:
                yield from parser.feed(chunk)
                if parser.finished:
                    break
                try:
                    with deadline(call.deadline):
                        chunk = next(chunks)
                except StopIteration:
                    yield from parser.end()
                    break
                except httpx.HTTPError as exc:  # after the first byte: not retried
                    raise self._transport_failure(exc, call) from exc
        except TransportError as exc:  # an error event may quote the key
            self._scrub_error(exc)
            raise
        finally:
            response.close()
        out.reply = parser.reply(self.provider.keep_headers(response.headers), call.attempts)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """The asyncio twin of Client: `await chat()`, `async for piece in stream()`."""

    def __init__(
        self,
        model: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(model, **options)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport,
            limits=limits or DEFAULT_LIMITS,
            timeout=self._httpx_timeout,
        )
        self._adopt_headers(self._http, self._owns_http)
        install(self._http)
        self._retrying: AsyncRetrying = self._retrying_for(None)

    def _make_retrying(self, policy: RetryPolicy) -> AsyncRetrying:
        return policy.async_retrying()

    async def chat(
        self,
        messages: Any,
        /,
        *,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        drop_params: bool | None = None,
        max_response_bytes: int | None = None,
        fetch: FetchPolicy | None = None,
        **params: Any,
    ) -> Reply:
        """Send the messages, return the Reply (see Client.chat)."""
        call = await self._aprepare(
            messages, params, False, drop_params, timeout, max_response_bytes, fetch
        )
        retrying = self._retrying if max_retries is None else self._retrying_for(max_retries)
        return self._reply(call, await self._attempts(self._send, call, retrying))

    def stream(
        self,
        messages: Any,
        /,
        *,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        drop_params: bool | None = None,
        max_response_bytes: int | None = None,
        fetch: FetchPolicy | None = None,
        **params: Any,
    ) -> AsyncStream:
        """`async for piece in client.stream(...)`; `.reply` once exhausted. Media is encoded
        when iteration starts (off the event loop), so a bad part raises there."""
        retrying = self._retrying if max_retries is None else self._retrying_for(max_retries)
        if _light(messages):
            call = self._prepare(
                messages, params, True, drop_params, timeout, max_response_bytes, fetch
            )
            return AsyncStream(lambda out: self._pieces(call, retrying, out))

        async def run(out: AsyncStream) -> AsyncGenerator[str, None]:
            call = await self._aprepare(
                messages, params, True, drop_params, timeout, max_response_bytes, fetch
            )
            pieces = self._pieces(call, retrying, out)
            try:
                async for piece in pieces:
                    yield piece
            finally:
                await pieces.aclose()

        return AsyncStream(run)

    async def _aprepare(
        self,
        messages: Any,
        params: dict[str, Any],
        stream: bool,
        drop_params: bool | None,
        timeout: TimeoutLike,
        max_response_bytes: int | None,
        fetch: FetchPolicy | None = None,
    ) -> _Call:
        """`_prepare`, in a worker thread when there is media to encode: decoding and resizing
        images on the event loop would stall every other call (Pillow releases the GIL, so the
        threads also use the other cores). Parts' encode caches are dicts set whole, so a
        part shared by concurrent calls is at worst encoded twice, never half-written.

        When every part is already encoded for the target (a message sent again), the body is
        built on the loop: the hop to a thread would cost more than the build."""
        args = (messages, params, stream, drop_params, timeout, max_response_bytes, fetch)
        if _light(messages):
            return self._prepare(*args)
        try:
            with cached_only():
                return self._prepare(*args)
        except WouldBlock:
            pass  # something needs encoding: nothing was changed, build it in a thread
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_encoders(), functools.partial(self._prepare, *args))

    async def _attempts(
        self, attempt: Callable[[_Call], Awaitable[_T]], call: _Call, retrying: AsyncRetrying
    ) -> _T:
        try:
            return await attempt(call)
        except TransportError as exc:
            if not is_retryable(exc):
                raise
            call.replay = exc
        result: _T = await retrying(_areplay_first, attempt, call)
        return result

    async def _send(self, call: _Call) -> tuple[httpx.Response, bytearray]:
        call.attempts += 1
        try:
            with deadline(call.deadline):
                response = await self._request(call)
                try:
                    body = await self._read(call, response)
                finally:
                    await response.aclose()
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, call) from exc
        if response.status_code >= 300:
            raise self._status_error(response.status_code, response.headers, body)
        return response, body

    async def _request(self, call: _Call) -> httpx.Response:
        request = self._http.build_request(
            "POST",
            call.url,
            content=call.content,
            headers=self._send_headers(),
            timeout=self._attempt_timeout(call),
        )
        return await self._http.send(request, stream=True)

    async def _read(self, call: _Call, response: httpx.Response) -> bytearray:
        decoder = self._decoder(call, response)
        body = bytearray()
        async for raw in _aand_end(response):
            pieces = self._take(call, response, decoder, raw)
            if pieces is None:
                break
            for piece in pieces:
                body += piece
        return body

    async def _text(
        self, call: _Call, response: httpx.Response, decoder: BoundedDecoder
    ) -> AsyncGenerator[str, None]:
        text = _text_decoder(response)
        async for raw in _aand_end(response):
            for piece in self._take(call, response, decoder, raw) or ():
                if decoded := text.decode(piece):
                    yield decoded
        if tail := text.decode(b"", final=True):
            yield tail

    async def _open(self, call: _Call) -> tuple[httpx.Response, AsyncIterator[str], str]:
        call.attempts += 1
        try:
            with deadline(call.deadline):
                response = await self._request(call)
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, call) from exc
        try:
            with deadline(call.deadline):
                if response.status_code >= 300:
                    body = await self._read(call, response)
                    raise self._status_error(response.status_code, response.headers, body)
                chunks = self._text(call, response, self._decoder(call, response))
                return response, chunks, await anext(chunks, "")
        except httpx.HTTPError as exc:
            await response.aclose()
            raise self._transport_failure(exc, call) from exc
        except BaseException:
            await response.aclose()
            raise

    async def _pieces(
        self, call: _Call, retrying: AsyncRetrying, out: AsyncStream
    ) -> AsyncGenerator[str, None]:
        response, chunks, chunk = await self._attempts(self._open, call, retrying)
        parser = self.provider.stream_parser(self.model_id)
        try:
            while True:
                for piece in parser.feed(chunk):
                    yield piece
                if parser.finished:
                    break
                try:
                    with deadline(call.deadline):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    for piece in parser.end():
                        yield piece
                    break
                except httpx.HTTPError as exc:  # after the first byte: not retried
                    raise self._transport_failure(exc, call) from exc
        except TransportError as exc:  # an error event may quote the key
            self._scrub_error(exc)
            raise
        finally:
            await response.aclose()
        out.reply = parser.reply(self.provider.keep_headers(response.headers), call.attempts)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
