"""The transport against the local conformance server over real sockets: every route, both
stream framings, every error status, retries, timeouts, and the async twin."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until

import mmkit.transport as transport
from mmkit.errors import (
    AuthError,
    BadRequestError,
    ConnectionError,
    MmkitError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
)
from mmkit.message import Message
from mmkit.server import RunningServer, ServerOptions, serve_in_thread
from mmkit.transport import AsyncClient, Client, Timeout, acompletion, completion

BYTEZ = "bytez/google/gemma-3-4b-it"
PROMPT = "What is in this picture?"
EXPECTED = 'text "What is in this picture?"; image 320×240 JPEG'


@pytest.fixture
def photo_message(fixtures_dir: Path) -> list[Message]:
    return [Message.user(PROMPT, image=fixtures_dir / "photo.jpg")]


def routes(server: RunningServer) -> dict[str, dict[str, Any]]:
    """Client arguments for each route the server speaks."""
    return {
        "bytez": {"model": BYTEZ, "base_url": server.base_url, "api_key": "bz-test"},
        "openai": {"model": "gemma-3", "base_url": f"{server.base_url}/v1", "api_key": "sk-1"},
        "echo": {"model": "echo"},  # the process's shared server, started on first use
    }


# --- every route --------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["bytez", "openai", "echo"])
def test_chat_on_each_route(
    server: RunningServer, route: str, photo_message: list[Message]
) -> None:
    with Client(**routes(server)[route]) as client:
        reply = client.chat(photo_message, max_tokens=20, temperature=0.5)
    assert reply.text == EXPECTED
    assert reply.attempts == 1 and reply.provider == client.provider.name


def test_bytez_reply_keeps_rate_limit_and_inference_headers(
    server: RunningServer, photo_message: list[Message]
) -> None:
    with Client(**routes(server)["bytez"]) as client:
        reply = client.chat(photo_message, repetition_penalty=1.2)
    assert set(reply.headers) >= {
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "inference-meter",
        "inference-time",
    }
    assert reply.model == "google/gemma-3-4b-it"


def test_bytez_content_as_a_list_of_parts(photo_message: list[Message]) -> None:
    with (
        serve_in_thread(ServerOptions(bytez_content_as_list=True)) as server,
        Client(BYTEZ, base_url=server.base_url, api_key="k") as client,
    ):
        assert client.chat(photo_message).text == EXPECTED


def test_openai_reply_has_usage_and_finish_reason(server: RunningServer) -> None:
    with Client(**routes(server)["openai"]) as client:
        reply = client.chat("one two three four five six", max_tokens=3)
    assert reply.finish_reason == "length" and len(reply.text.split()) == 3
    assert reply.usage.completion_tokens == 3
    assert reply.usage.total_tokens == (reply.usage.prompt_tokens or 0) + 3
    assert reply.id and reply.model == "gemma-3"


def test_a_proxy_base_url_without_v1(server: RunningServer) -> None:
    with Client("gemma-3", base_url=server.base_url, api_key="sk-1234") as client:
        assert client.chat([{"role": "user", "content": "hello"}]).text == 'text "hello"'


def test_echo_model_starts_the_local_server(photo_message: list[Message]) -> None:
    with Client("echo") as client:
        assert client.base_url.startswith("http://127.0.0.1:")
        assert client.chat(photo_message).text == EXPECTED


# --- streams ----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["bytez", "openai", "echo"])
def test_stream_pieces_join_to_the_reply(
    server: RunningServer, route: str, photo_message: list[Message]
) -> None:
    with Client(**routes(server)[route]) as client:
        stream = client.stream(photo_message)
        pieces = list(stream)
    assert len(pieces) > 3 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == EXPECTED
    assert stream.reply is not None and stream.reply.text == EXPECTED


def test_openai_stream_finish_reason(server: RunningServer) -> None:
    with Client(**routes(server)["openai"]) as client:
        stream = client.stream("one two three four", max_tokens=2)
        assert "".join(stream) == 'text "one'
    assert stream.reply is not None and stream.reply.finish_reason == "length"


def test_stream_closed_early_frees_its_connection(server: RunningServer) -> None:
    with Client(**routes(server)["openai"]) as client:
        with client.stream("a b c d e f g h") as stream:
            assert next(stream) == "text"
        assert stream.reply is None
        assert client.chat("again").text == 'text "again"'  # the pool is still usable


# --- the seed's call ----------------------------------------------------------------------------


def test_completion_returns_an_openai_shaped_response(server: RunningServer) -> None:
    response = completion(
        model=BYTEZ,
        messages=[{"content": "Hello, how are you?", "role": "user"}],
        api_key="bz-test",
        base_url=server.base_url,
        max_tokens=20,
        temperature=0.5,
        repetition_penalty=1.2,
    )
    assert response.choices[0].message.content == 'text "Hello, how are you?"'
    assert response.choices[0].message.role == "assistant"
    assert response.model == "google/gemma-3-4b-it" and response.id.startswith("chatcmpl-")
    assert response.object == "chat.completion"
    assert response.headers["ratelimit-limit"]


def test_completion_reuses_its_client(server: RunningServer) -> None:
    first = transport.compat._sync_client("echo-x", None, server.base_url + "/v1")
    second = transport.compat._sync_client("echo-x", None, server.base_url + "/v1")
    other_model = transport.compat._sync_client("other", None, server.base_url + "/v1")
    assert first is second and first._http is other_model._http


def test_completion_with_echo_and_usage() -> None:
    response = completion(model="echo", messages=[Message.user("hi there")], api_base=None)
    assert response.choices[0].message.content == 'text "hi there"'
    assert response.usage.total_tokens is not None and response.usage.total_tokens > 0


def test_completion_stream_yields_openai_chunks(server: RunningServer) -> None:
    chunks = list(
        completion(
            model="gemma-3",
            messages=[{"role": "user", "content": "a b c"}],
            api_base=f"{server.base_url}/v1",
            stream=True,
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == 'text "a b c"'
    assert chunks[-1].choices[0].delta.content is None
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)


def test_acompletion_and_its_stream(server: RunningServer) -> None:
    async def main() -> tuple[str | None, str]:
        response = await acompletion(
            model=BYTEZ,
            messages=[{"role": "user", "content": "hey"}],
            api_key="k",
            base_url=server.base_url,
            max_tokens=5,
        )
        stream = await acompletion(
            model=BYTEZ,
            messages=[{"role": "user", "content": "hey"}],
            api_key="k",
            base_url=server.base_url,
            stream=True,
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        return response.choices[0].message.content, text

    assert asyncio.run(main()) == ('text "hey"', 'text "hey"')
    assert asyncio.run(main()) == ('text "hey"', 'text "hey"')  # a new loop gets new clients


# --- errors -----------------------------------------------------------------------------------

STATUSES: list[tuple[int, type[TransportError]]] = [
    (400, BadRequestError),
    (401, AuthError),
    (403, AuthError),
    (404, NotFoundError),
    (413, BadRequestError),
    (415, BadRequestError),
    (422, BadRequestError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
]


@pytest.mark.parametrize("route", ["bytez", "openai"])
@pytest.mark.parametrize(("status", "error"), STATUSES)
def test_every_error_status(route: str, status: int, error: type[TransportError]) -> None:
    with serve_in_thread(ServerOptions(script=(status,), retry_after=0.5)) as server:
        with (
            Client(**routes(server)[route], max_retries=0) as client,
            pytest.raises(error) as caught,
        ):
            client.chat("hi")
        assert server.stats.total == 1
    exc = caught.value
    assert type(exc) is error and exc.status == status
    assert exc.provider == client.provider.name and exc.model == client.model_id
    assert f"HTTP {status}" in str(exc)
    if route == "openai":  # the server's own message is kept
        assert "injected by the mmkit conformance server" in str(exc)
    if status == 429:
        assert isinstance(exc, RateLimitError) and exc.retry_after == 0.5


def test_wrong_key_is_an_auth_error_that_does_not_show_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve_in_thread(ServerOptions(api_key="the-right-key")) as server:
        for route in ("bytez", "openai"):
            arguments = {**routes(server)[route], "api_key": "wrong-key-987654"}
            with Client(**arguments) as client:
                try:
                    client.chat("hi")
                except AuthError as exc:
                    assert exc.status == 401
                    seen = [str(exc), repr(exc), traceback.format_exc(), repr(client)]
                else:
                    pytest.fail("a wrong key must be refused")
            assert all("wrong-key-987654" not in text for text in [*seen, caplog.text])
        with Client(**{**routes(server)["bytez"], "api_key": "the-right-key"}) as client:
            assert client.chat("hi").text == 'text "hi"'


def test_oversize_body_is_a_bad_request_with_the_servers_message(
    photo_message: list[Message],
) -> None:
    with (
        serve_in_thread(ServerOptions(max_body_bytes=2000)) as server,
        Client(**routes(server)["openai"]) as client,
        pytest.raises(BadRequestError) as caught,
    ):
        client.chat(photo_message)
    assert caught.value.status == 413 and "2,000-byte limit" in str(caught.value)


def test_unknown_route_is_not_found(server: RunningServer) -> None:
    with (
        Client("bytez/a/b/c", base_url=server.base_url, api_key="k") as client,
        pytest.raises(NotFoundError),
    ):
        client.chat("hi")


def test_refused_connection_is_a_connection_error() -> None:
    with serve_in_thread() as server:
        base_url = server.base_url
    with (
        Client("m", base_url=base_url, max_retries=1, backoff=0.01) as client,
        pytest.raises(ConnectionError) as caught,
    ):
        client.chat("hi")
    assert caught.value.status is None and "is the server running?" in str(caught.value)


# --- retries ----------------------------------------------------------------------------------


def test_two_rate_limits_then_an_answer_honour_retry_after() -> None:
    options = ServerOptions(fail_first=2, fail_status=429, retry_after=0.2)
    with serve_in_thread(options) as server, Client(**routes(server)["bytez"]) as client:
        started = time.monotonic()
        reply = client.chat("hi")
        elapsed = time.monotonic() - started
        stats = server.stats
    assert reply.text == 'text "hi"' and reply.attempts == 3
    assert elapsed >= 0.2 * 2
    assert stats.total == 3 and stats.answered == 1 and stats.by_status[429] == 2


@pytest.mark.parametrize("route", ["bytez", "openai"])
def test_server_errors_and_drops_are_retried_with_backoff(route: str) -> None:
    with (
        serve_in_thread(ServerOptions(script=(503, 0, 502, 500, 504))) as server,
        Client(**routes(server)[route], max_retries=5, backoff=0.01) as client,
    ):
        reply = client.chat("hi")
        assert server.stats.total == 6 and server.stats.dropped == 1
    assert reply.attempts == 6 and reply.text == 'text "hi"'


def test_a_dropped_connection_without_retries_is_a_server_error() -> None:
    with (
        serve_in_thread(ServerOptions(script=(0,))) as server,
        Client(**routes(server)["openai"], max_retries=0) as client,
        pytest.raises(ServerError) as caught,
    ):
        client.chat("hi")
    assert caught.value.status is None and "dropped" in str(caught.value)


def test_a_bad_request_is_not_retried() -> None:
    with (
        serve_in_thread(ServerOptions(script=(400, 200))) as server,
        Client(**routes(server)["openai"], max_retries=5, backoff=0.01) as client,
    ):
        with pytest.raises(BadRequestError):
            client.chat("hi")
        assert server.stats.total == 1


@pytest.mark.parametrize("route", ["bytez", "openai"])
def test_a_stream_is_retried_before_its_first_byte(route: str) -> None:
    with (
        serve_in_thread(ServerOptions(script=(503, 0))) as server,
        Client(**routes(server)[route], backoff=0.01) as client,
    ):
        stream = client.stream("a b c")
        assert "".join(stream) == 'text "a b c"'
        assert server.stats.total == 3
    assert stream.reply is not None and stream.reply.attempts == 3


# --- timeouts ---------------------------------------------------------------------------------


def test_a_slow_server_is_a_timeout_error() -> None:
    with (
        serve_in_thread(ServerOptions(latency=5.0)) as server,
        Client(
            **routes(server)["openai"], timeout=Timeout(connect=2.0, read=0.2), max_retries=0
        ) as client,
    ):
        started = time.monotonic()
        with pytest.raises(TimeoutError) as caught:
            client.chat("hi")
        assert time.monotonic() - started < 4.0  # the read timeout ended it, not the 5-s latency
    assert caught.value.status is None and "timed out" in str(caught.value)


def test_read_timeouts_are_retried() -> None:
    with (
        serve_in_thread(ServerOptions(latency=0.3)) as server,
        Client(
            **routes(server)["bytez"],
            timeout=Timeout(connect=2.0, read=0.1),
            max_retries=2,
            backoff=0.01,
        ) as client,
    ):
        with pytest.raises(TimeoutError):
            client.chat("hi")
        # the server counts a request when it arrives: wait for the last one to land
        assert wait_until(lambda: server.stats.total >= 3)
        assert server.stats.total == 3


def test_total_timeout_bounds_the_whole_call() -> None:
    with (
        serve_in_thread(ServerOptions(latency=5.0)) as server,
        Client(
            **routes(server)["openai"],
            timeout=Timeout(read=10.0, total=0.5),
            max_retries=10,
            backoff=0.01,
        ) as client,
    ):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.chat("hi")
        assert time.monotonic() - started < 4.0  # the total ended it, not the 5-s latency


def test_per_call_timeout() -> None:
    with (
        serve_in_thread(ServerOptions(latency=0.3)) as server,
        Client(**routes(server)["openai"], max_retries=0) as client,
    ):
        with pytest.raises(TimeoutError):
            client.chat("hi", timeout=0.1)
        assert client.chat("hi").text == 'text "hi"'


# --- the async twin -----------------------------------------------------------------------------


def test_async_client_basics(server: RunningServer, photo_message: list[Message]) -> None:
    async def main() -> list[str]:
        results = []
        for route in ("bytez", "openai", "echo"):
            async with AsyncClient(**routes(server)[route]) as client:
                reply = await client.chat(photo_message, max_tokens=20)
                stream = client.stream(photo_message)
                pieces = [piece async for piece in stream]
                assert stream.reply is not None and stream.reply.text == "".join(pieces)
                many = await asyncio.gather(*(client.chat(f"n{i}") for i in range(20)))
                assert [r.text for r in many] == [f'text "n{i}"' for i in range(20)]
                results += [reply.text, "".join(pieces)]
        return results

    assert asyncio.run(main()) == [EXPECTED] * 6


def test_async_errors_retries_and_timeouts() -> None:
    async def main(server: RunningServer, slow: RunningServer) -> None:
        async with AsyncClient(**routes(server)["openai"], backoff=0.01) as client:
            reply = await client.chat("hi")  # 429 then 503, each retried
            assert reply.attempts == 3
            with pytest.raises(BadRequestError):
                await client.chat("hi")  # the scripted 400
            stream = client.stream("a b")
            assert "".join([p async for p in stream]) == 'text "a b"'
        async with AsyncClient(**routes(slow)["bytez"], timeout=0.1, max_retries=0) as client:
            with pytest.raises(TimeoutError):
                await client.chat("slow")

    options = ServerOptions(script=(429, 503, 200, 400), retry_after=0.05)
    with serve_in_thread(options) as server, serve_in_thread(ServerOptions(latency=0.5)) as slow:
        asyncio.run(main(server, slow))


def test_async_missing_key_is_raised_at_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BYTEZ_API_KEY", raising=False)
    with pytest.raises(AuthError, match="BYTEZ_API_KEY"):
        AsyncClient(BYTEZ)


def test_errors_are_mmkit_errors(server: RunningServer) -> None:
    with Client(**routes(server)["openai"]) as client, pytest.raises(MmkitError):
        client.chat(
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,bm90IGFuIGltYWdl"},
                        }
                    ],
                }
            ]
        )
