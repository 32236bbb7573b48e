"""Bodies built ahead of time (in another process) and sent as is: RequestBuilder, Prepared."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import pytest

from mmkit.errors import InvalidOptionError
from mmkit.message import Message
from mmkit.server import RunningServer
from mmkit.transport import AsyncClient, Client, Prepared

EXPECTED = 'text "What is in this picture?"; image 320×240 JPEG'


def test_a_body_built_in_another_process_is_what_chat_would_send(
    server: RunningServer, fixtures_dir: Path
) -> None:
    messages = [Message.user("What is in this picture?", image=fixtures_dir / "photo.jpg")]
    with Client(
        "bytez/google/gemma-3-4b-it", base_url=server.base_url, params={"temperature": 0.5}
    ) as client:
        builder = pickle.loads(pickle.dumps(client.builder()))  # as a worker receives it
        prepared = builder.build(messages, max_tokens=20)
        reply = client.chat(prepared)
        direct = client.chat(messages, max_tokens=20)
    assert reply.text == direct.text == EXPECTED
    assert b'"max_new_tokens":20' in prepared.content and b'"temperature":0.5' in prepared.content
    assert "bytes" in repr(prepared) and "base64" not in repr(prepared)


def test_the_async_client_sends_a_prepared_body(server: RunningServer) -> None:
    async def main() -> str:
        async with AsyncClient("gemma-3", base_url=f"{server.base_url}/v1") as client:
            return (await client.chat(client.builder().build("hello"))).text

    assert asyncio.run(main()) == 'text "hello"'


def test_a_prepared_body_carries_its_own_parameters(server: RunningServer) -> None:
    with Client("gemma-3", base_url=f"{server.base_url}/v1") as client:
        prepared = client.builder().build("hello")
        with pytest.raises(InvalidOptionError, match=r"max_tokens to RequestBuilder\.build"):
            client.chat(prepared, max_tokens=5)
        other = Prepared(prepared.content, "other-model")
        with pytest.raises(InvalidOptionError, match="built for 'other-model'"):
            client.chat(other)
