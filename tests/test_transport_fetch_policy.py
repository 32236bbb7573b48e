"""`FetchPolicy` is mmkit's, and every place that downloads a media URL takes one: a loopback URL
is refused by default and fetched when the policy allows that address."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import serve_folder

import mmkit
from mmkit import Image, Message
from mmkit.server import RunningServer

LOOPBACK = mmkit.FetchPolicy(allow_private=("127.0.0.1",))
HEARD = 'text "Transcribe"; audio 1.0 s 16 kHz mono'  # the echo server decoded the WAV


@pytest.fixture(scope="module", autouse=True)
def _close_completion_pools() -> Iterator[None]:
    """completion() keeps its connection pools for the process: close them with this module."""
    yield
    mmkit.transport.close_clients()


@pytest.fixture(scope="module")
def media(fixtures_dir: Path) -> Iterator[str]:
    """The fixtures over HTTP on 127.0.0.1: a private address, refused by the default policy."""
    with serve_folder(fixtures_dir) as url:
        yield url


def ask(media: str) -> list[Message]:
    """A fresh message each time: a fetched part keeps its bytes. OpenAI's input_audio has no
    URL form, so the client must download the audio to send it."""
    return [Message.user("Transcribe", audio=f"{media}/tone.wav")]


def echo(server: RunningServer, **options: object) -> mmkit.Client:
    return mmkit.Client("echo", base_url=f"{server.base_url}/v1", max_retries=0, **options)  # type: ignore[arg-type]


def test_fetch_policy_is_exported_from_mmkit() -> None:
    from mmkit.media.fetch import FetchPolicy

    assert mmkit.FetchPolicy is FetchPolicy
    assert "FetchPolicy" in mmkit.__all__


def test_a_loopback_url_is_refused_by_default_naming_the_policy(
    media: str, server: RunningServer
) -> None:
    with echo(server) as client, pytest.raises(mmkit.BlockedURLError) as caught:
        client.chat(ask(media))
    assert "127.0.0.1 is a non-public address (loopback)" in str(caught.value)
    assert "pass FetchPolicy(allow_private=True)" in str(caught.value)


def test_chat_and_stream_take_a_policy_per_call(media: str, server: RunningServer) -> None:
    with echo(server) as client:
        assert client.chat(ask(media), fetch=LOOPBACK).text == HEARD
        assert "".join(client.stream(ask(media), fetch=LOOPBACK)) == HEARD
        with pytest.raises(mmkit.BlockedURLError):  # per call: the client's default is unchanged
            client.chat(ask(media))


def test_the_client_takes_a_policy_for_all_its_calls(media: str, server: RunningServer) -> None:
    with echo(server, fetch=LOOPBACK) as client:
        assert client.chat(ask(media)).text == HEARD
        # a body built ahead (in another process) carries the client's policy
        builder = pickle.loads(pickle.dumps(client.builder()))
        assert client.chat(builder.build(ask(media))).text == HEARD
    with pytest.raises(mmkit.InvalidOptionError, match=r"fetch= takes a mmkit.FetchPolicy"):
        echo(server, fetch={"allow_private": True})


def test_the_async_client_takes_a_policy(media: str, server: RunningServer) -> None:
    async def main() -> tuple[str, str]:
        async with mmkit.AsyncClient(
            "echo", base_url=f"{server.base_url}/v1", max_retries=0
        ) as client:
            with pytest.raises(mmkit.BlockedURLError):
                await client.chat(ask(media))
            reply = await client.chat(ask(media), fetch=LOOPBACK)
            pieces = [piece async for piece in client.stream(ask(media), fetch=LOOPBACK)]
            return reply.text, "".join(pieces)

    assert asyncio.run(main()) == (HEARD, HEARD)


def test_completion_takes_a_policy(media: str, server: RunningServer) -> None:
    base_url = f"{server.base_url}/v1"
    with pytest.raises(mmkit.BlockedURLError):
        mmkit.completion("echo", ask(media), base_url=base_url, max_retries=0)
    response = mmkit.completion("echo", ask(media), base_url=base_url, fetch=LOOPBACK)
    assert response.choices[0].message.content == HEARD

    async def main() -> str | None:
        response = await mmkit.acompletion("echo", ask(media), base_url=base_url, fetch=LOOPBACK)
        return response.choices[0].message.content

    assert asyncio.run(main()) == HEARD


@pytest.mark.parametrize("convert", [mmkit.to_openai, mmkit.to_bytez, mmkit.to_hf])
def test_the_converters_take_a_policy(media: str, convert: object) -> None:
    def message() -> list[Message]:
        return [Message.user("What is this?", image=Image(f"{media}/rgb.png", inline=True))]

    with pytest.raises(mmkit.BlockedURLError, match="loopback"):
        convert(message())  # type: ignore[operator]
    (sent,) = convert(message(), fetch=LOOPBACK)  # type: ignore[operator]
    assert '"data:image/png;base64,iVBORw0KGgo' in str(sent).replace("'", '"')
