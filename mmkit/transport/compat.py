"""The seed's call: `completion(model=..., messages=..., **params)` and `await acompletion(...)`.

Same arguments as LiteLLM's examples (`api_key=`, `base_url=`/`api_base=`, model parameters as
keywords), OpenAI-shaped results. Clients are cached so repeated calls reuse connections: one
connection pool per (provider, base_url, key), one small client per model on top of it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from mmkit.errors import InvalidOptionError
from mmkit.transport.client import DEFAULT_LIMITS, AsyncClient, Client
from mmkit.transport.providers import resolve
from mmkit.transport.reply import (
    AsyncStream,
    ChatCompletion,
    ChatCompletionChunk,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
    ChunkChoice,
    CompletionUsage,
    Delta,
    Reply,
    Stream,
    new_id,
)
from mmkit.transport.retry import TimeoutLike
from mmkit.transport.secret import Secret

if TYPE_CHECKING:
    from mmkit.media.fetch import FetchPolicy

_MAX_CLIENTS = 64
_CacheKey = tuple[str, str | None, Secret | None]


class _Cache:
    """Clients by (model, base_url, key), sharing one httpx pool per (provider, base_url, key)."""

    def __init__(self) -> None:
        self.clients: OrderedDict[_CacheKey, Any] = OrderedDict()
        self.pools: dict[tuple[str, str | None, Secret | None], Any] = {}


_sync_cache = _Cache()
_sync_lock = threading.Lock()
# One cache per event loop: an httpx.AsyncClient's connections belong to the loop that made them.
_async_caches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Cache] = (
    weakref.WeakKeyDictionary()
)


def _key(
    model: str, api_key: str | None, base_url: str | None
) -> tuple[_CacheKey, tuple[str, str | None, Secret | None]]:
    provider, model_id = resolve(model, base_url)
    secret = provider.api_key(api_key, base_url is not None, model_id)
    return (model, base_url, secret), (provider.name, base_url, secret)


def _sync_client(model: str, api_key: str | None, base_url: str | None) -> Client:
    key, pool_key = _key(model, api_key, base_url)
    with _sync_lock:
        client: Client | None = _sync_cache.clients.get(key)
        if client is not None:
            _sync_cache.clients.move_to_end(key)
            return client
        pool = _sync_cache.pools.get(pool_key)
        if pool is None:
            pool = _sync_cache.pools[pool_key] = httpx.Client(limits=DEFAULT_LIMITS)
        client = Client(model, api_key=key[2], base_url=base_url, http_client=pool)
        _remember(_sync_cache, key, client)
        return client


def _async_client(model: str, api_key: str | None, base_url: str | None) -> AsyncClient:
    key, pool_key = _key(model, api_key, base_url)
    cache = _async_caches.setdefault(asyncio.get_running_loop(), _Cache())
    client: AsyncClient | None = cache.clients.get(key)
    if client is not None:
        cache.clients.move_to_end(key)
        return client
    pool = cache.pools.get(pool_key)
    if pool is None:
        pool = cache.pools[pool_key] = httpx.AsyncClient(limits=DEFAULT_LIMITS)
    client = AsyncClient(model, api_key=key[2], base_url=base_url, http_client=pool)
    _remember(cache, key, client)
    return client


def _remember(cache: _Cache, key: _CacheKey, client: Any) -> None:
    cache.clients[key] = client
    if len(cache.clients) > _MAX_CLIENTS:  # clients are small; their pools stay shared
        cache.clients.popitem(last=False)


def close_clients() -> None:
    """Close the cached sync connection pools (async ones go with their event loop)."""
    with _sync_lock:
        for pool in _sync_cache.pools.values():
            pool.close()
        _sync_cache.pools.clear()
        _sync_cache.clients.clear()


def _base_url(base_url: str | None, api_base: str | None) -> str | None:
    if base_url and api_base and base_url != api_base:
        raise InvalidOptionError("pass base_url= or api_base= (the same thing), not both")
    return base_url or api_base


def _options(
    max_retries: int | None,
    num_retries: int | None,
    timeout: TimeoutLike,
    drop_params: bool | None,
    fetch: FetchPolicy | None,
) -> dict[str, Any]:
    return {
        "max_retries": max_retries if max_retries is not None else num_retries,
        "timeout": timeout,
        "drop_params": drop_params,
        "fetch": fetch,
    }


@overload
def completion(
    model: str,
    messages: Any,
    *,
    stream: Literal[False] = False,
    api_key: str | None = None,
    base_url: str | None = None,
    api_base: str | None = None,
    timeout: TimeoutLike = None,
    max_retries: int | None = None,
    num_retries: int | None = None,
    drop_params: bool | None = None,
    fetch: FetchPolicy | None = None,
    **params: Any,
) -> ChatCompletion: ...
@overload
def completion(
    model: str,
    messages: Any,
    *,
    stream: Literal[True],
    api_key: str | None = None,
    base_url: str | None = None,
    api_base: str | None = None,
    timeout: TimeoutLike = None,
    max_retries: int | None = None,
    num_retries: int | None = None,
    drop_params: bool | None = None,
    fetch: FetchPolicy | None = None,
    **params: Any,
) -> ChunkStream: ...
def completion(
    model: str,
    messages: Any,
    *,
    stream: bool = False,
    api_key: str | None = None,
    base_url: str | None = None,
    api_base: str | None = None,
    timeout: TimeoutLike = None,
    max_retries: int | None = None,
    num_retries: int | None = None,
    drop_params: bool | None = None,
    fetch: FetchPolicy | None = None,
    **params: Any,
) -> ChatCompletion | ChunkStream:
    """LiteLLM's call shape: an OpenAI-shaped response, or chunks when `stream=True`.
    `fetch=` is the FetchPolicy for media URLs that must be inlined (see Client)."""
    client = _sync_client(model, api_key, _base_url(base_url, api_base))
    options = _options(max_retries, num_retries, timeout, drop_params, fetch)
    if stream:
        return ChunkStream(client.stream(messages, **options, **params), client.model_id)
    return ChatCompletion.from_reply(client.chat(messages, **options, **params))


@overload
async def acompletion(
    model: str,
    messages: Any,
    *,
    stream: Literal[False] = False,
    api_key: str | None = None,
    base_url: str | None = None,
    api_base: str | None = None,
    timeout: TimeoutLike = None,
    max_retries: int | None = None,
    num_retries: int | None = None,
    drop_params: bool | None = None,
    fetch: FetchPolicy | None = None,
    **params: Any,
) -> ChatCompletion: ...
@overload
async def acompletion(
    model: str,
    messages: Any,
    *,
    stream: Literal[True],
    api_key: str | None = None,
    base_url: str | None = None,
    api_base: str | None = None,
    timeout: TimeoutLike = None,
    max_retries: int | None = None,
    num_retries: int | None = None,
    drop_params: bool | None = None,
    fetch: FetchPolicy | None = None,
    **params: Any,
) -> AsyncChunkStream: ...
async def acompletion(
    model: str,
    messages: Any,
    *,
    stream: bool = False,
    api_key: str | None = None,
    base_url: str | None = None,
    api_base: str | None = None,
    timeout: TimeoutLike = None,
    max_retries: int | None = None,
    num_retries: int | None = None,
    drop_params: bool | None = None,
    fetch: FetchPolicy | None = None,
    **params: Any,
) -> ChatCompletion | AsyncChunkStream:
    """The asyncio twin of `completion`; with `stream=True`, `async for chunk in response`."""
    client = _async_client(model, api_key, _base_url(base_url, api_base))
    options = _options(max_retries, num_retries, timeout, drop_params, fetch)
    if stream:
        return AsyncChunkStream(client.stream(messages, **options, **params), client.model_id)
    return ChatCompletion.from_reply(await client.chat(messages, **options, **params))


class _Chunks:
    """Builds OpenAI-shaped chunks: one per text piece, then a closing one with the reason."""

    def __init__(self, model: str) -> None:
        self.id, self.created, self.model = new_id(), int(time.time()), model
        self.first = True

    def piece(self, text: str) -> ChatCompletionChunk:
        role = "assistant" if self.first else None
        self.first = False
        return self._chunk(Delta(role=role, content=text), None, None)

    def last(self, reply: Reply | None) -> ChatCompletionChunk:
        if reply is None:
            return self._chunk(Delta(), None, None)
        usage = CompletionUsage(
            prompt_tokens=reply.usage.prompt_tokens,
            completion_tokens=reply.usage.completion_tokens,
            total_tokens=reply.usage.total_tokens,
        )
        # the whole tool calls in one delta each: joined by index, as a client does, they are
        # what the server sent in pieces
        calls = [
            ChoiceDeltaToolCall(
                index=index,
                id=call.id,
                type=call.type,
                function=ChoiceDeltaToolCallFunction(
                    name=call.function.name, arguments=call.function.arguments
                ),
            )
            for index, call in enumerate(reply.tool_calls)
        ]
        return self._chunk(Delta(tool_calls=calls or None), reply.finish_reason, usage)

    def _chunk(
        self, delta: Delta, finish: str | None, usage: CompletionUsage | None
    ) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],
            usage=usage,
        )


class ChunkStream:
    """`for chunk in completion(..., stream=True)`: `chunk.choices[0].delta.content`."""

    def __init__(self, stream: Stream, model: str) -> None:
        self._stream = stream
        self._chunks = self._run(_Chunks(model))

    def _run(self, chunks: _Chunks) -> Iterator[ChatCompletionChunk]:
        for piece in self._stream:
            yield chunks.piece(piece)
        yield chunks.last(self._stream.reply)

    @property
    def reply(self) -> Reply | None:
        """mmkit's Reply once the stream is exhausted."""
        return self._stream.reply

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self._chunks

    def __next__(self) -> ChatCompletionChunk:
        return next(self._chunks)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> ChunkStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncChunkStream:
    """`async for chunk in await acompletion(..., stream=True)`."""

    def __init__(self, stream: AsyncStream, model: str) -> None:
        self._stream = stream
        self._chunks = self._run(_Chunks(model))

    async def _run(self, chunks: _Chunks) -> AsyncIterator[ChatCompletionChunk]:
        async for piece in self._stream:
            yield chunks.piece(piece)
        yield chunks.last(self._stream.reply)

    @property
    def reply(self) -> Reply | None:
        return self._stream.reply

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._chunks

    async def __anext__(self) -> ChatCompletionChunk:
        return await anext(self._chunks)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> AsyncChunkStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
