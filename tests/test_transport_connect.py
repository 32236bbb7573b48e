"""A server that is not there: a refused connection says so, for both clients."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest

import mmkit
from mmkit.errors import ServerError, TransportError

SECRET = "sk-connect-test-0123456789"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it), not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _check(error: mmkit.ConnectionError, port: int) -> None:
    assert type(error) is mmkit.ConnectionError
    assert isinstance(error, TransportError) and not isinstance(error, ServerError)
    text = str(error)
    assert text == (
        f"openai-compatible my-model: could not connect to http://127.0.0.1:{port}/v1/chat/"
        "completions (the connection was refused: nothing listens there); is the server "
        "running? Start it, or check base_url= and your network"
    )
    assert SECRET not in text
    assert (error.status, error.provider, error.model) == (None, "openai-compatible", "my-model")


def test_a_refused_connection_is_a_connection_error_naming_the_url(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mmkit.transport")
    base_url = f"http://127.0.0.1:{closed_port}/v1"
    with (
        mmkit.Client(
            "my-model", base_url=base_url, api_key=SECRET, max_retries=1, backoff=0.001
        ) as client,
        pytest.raises(mmkit.ConnectionError) as caught,
    ):
        client.chat("hi")
    _check(caught.value, closed_port)
    # refused is retried, as a server that is restarting refuses for a moment
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["try 1 failed"]


def test_a_refused_stream_is_a_connection_error(closed_port: int) -> None:
    base_url = f"http://127.0.0.1:{closed_port}/v1"
    with (
        mmkit.Client("my-model", base_url=base_url, api_key=SECRET, max_retries=0) as client,
        pytest.raises(mmkit.ConnectionError) as caught,
    ):
        list(client.stream("hi"))
    _check(caught.value, closed_port)


def test_the_async_client_says_the_same(closed_port: int) -> None:
    base_url = f"http://127.0.0.1:{closed_port}/v1"

    async def main() -> None:
        async with mmkit.AsyncClient(
            "my-model", base_url=base_url, api_key=SECRET, max_retries=0
        ) as client:
            with pytest.raises(mmkit.ConnectionError) as caught:
                await client.chat("hi")
            _check(caught.value, closed_port)
            with pytest.raises(mmkit.ConnectionError) as caught:
                async for _ in client.stream("hi"):
                    pass
            _check(caught.value, closed_port)

    asyncio.run(main())
