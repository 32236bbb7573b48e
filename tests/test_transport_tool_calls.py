"""Tool calls from an OpenAI-compatible server, typed on the Reply and in completion()'s message,
from a whole body and from a stream of deltas. The server is a real one on 127.0.0.1 that
answers any request carrying `tools` with the tool calls below (the echo server has no tools)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import mmkit
from mmkit.transport import Function, ToolCall

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
WEATHER = ToolCall(
    id="call_abc", function=Function(name="get_weather", arguments='{"city": "Paris"}')
)
TIME = ToolCall(id="call_def", function=Function(name="get_time", arguments='{"tz": "CET"}'))
MESSAGE = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_abc",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "id": "call_def",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
        },
    ],
}
# How OpenAI streams them: id and name first, the arguments in pieces, calls told apart by index.
DELTAS: list[dict[str, Any]] = [
    {"role": "assistant", "content": None},
    {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_abc",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    },
    {"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]},
    {"tool_calls": [{"index": 0, "function": {"arguments": ': "Paris"}'}}]},
    {
        "tool_calls": [
            {
                "index": 1,
                "id": "call_def",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"tz": '},
            }
        ]
    },
    {"tool_calls": [{"index": 1, "function": {"arguments": '"CET"}'}}]},
]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)  # type: ignore[attr-defined]
        if "tools" not in body:
            message = {"role": "assistant", "content": "no tools asked"}
            self._send("application/json", json.dumps(self._whole(message, "stop")).encode())
        elif body.get("stream"):
            events = [self._chunk(delta, None) for delta in DELTAS]
            events.append(self._chunk({}, "tool_calls"))
            sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            self._send("text/event-stream", sse.encode())
        else:
            self._send("application/json", json.dumps(self._whole(MESSAGE, "tool_calls")).encode())

    def _whole(self, message: dict[str, Any], finish: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-tools",
            "object": "chat.completion",
            "model": "tool-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-tools",
            "object": "chat.completion.chunk",
            "model": "tool-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _send(self, kind: str, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module", autouse=True)
def _close_completion_pools() -> Iterator[None]:
    """completion() keeps its connection pools for the process: close them with this module."""
    yield
    mmkit.transport.close_clients()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_reply_carries_typed_tool_calls(base_url: str) -> None:
    with mmkit.Client("tool-model", base_url=base_url) as client:
        reply = client.chat("Weather and time in Paris?", tools=TOOLS)
    assert reply.tool_calls == [WEATHER, TIME]
    call = reply.tool_calls[0]
    assert (call.id, call.type, call.function.name) == ("call_abc", "function", "get_weather")
    assert call.function.arguments == '{"city": "Paris"}'
    assert call.parse_arguments() == {"city": "Paris"}
    assert reply.tool_calls[1].parse_arguments() == {"tz": "CET"}
    assert (reply.text, reply.finish_reason) == ("", "tool_calls")
    assert repr(reply) == (
        "Reply('', model='tool-model', finish_reason='tool_calls', usage=Usage(prompt_tokens=12, "
        "completion_tokens=9, total_tokens=21), tool_calls=[get_weather, get_time])"
    )


def test_a_reply_without_tool_calls_has_none(base_url: str) -> None:
    with mmkit.Client("tool-model", base_url=base_url) as client:
        reply = client.chat("hi")
    assert (reply.text, reply.tool_calls) == ("no tools asked", [])


def test_streamed_tool_call_deltas_are_joined(base_url: str) -> None:
    with mmkit.Client("tool-model", base_url=base_url) as client:
        stream = client.stream("Weather and time in Paris?", tools=TOOLS)
        assert list(stream) == []  # no text
    assert stream.reply is not None
    assert stream.reply.tool_calls == [WEATHER, TIME]
    assert stream.reply.finish_reason == "tool_calls"

    async def main() -> list[ToolCall]:
        async with mmkit.AsyncClient("tool-model", base_url=base_url) as client:
            reply = await client.chat("Weather?", tools=TOOLS)
            assert reply.tool_calls == [WEATHER, TIME]
            stream = client.stream("Weather?", tools=TOOLS)
            assert [piece async for piece in stream] == []
            assert stream.reply is not None
            return stream.reply.tool_calls

    assert asyncio.run(main()) == [WEATHER, TIME]


def test_completion_gives_tool_calls_as_the_openai_sdk_does(base_url: str) -> None:
    response = mmkit.completion("tool-model", "Weather?", base_url=base_url, tools=TOOLS)
    message = response.choices[0].message
    assert message.content is None  # only tools were called
    assert message.tool_calls is not None
    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_abc", "function", "get_weather", '{"city": "Paris"}'),
        ("call_def", "function", "get_time", '{"tz": "CET"}'),
    ]
    assert response.choices[0].finish_reason == "tool_calls"
    assert (
        mmkit.completion("tool-model", "hi", base_url=base_url).choices[0].message.tool_calls
        is None
    )

    # streamed: joining the deltas by index, as an openai SDK user does, gives the same calls
    joined: dict[int, list[str]] = {}
    for chunk in mmkit.completion(
        "tool-model", "Weather?", base_url=base_url, tools=TOOLS, stream=True
    ):
        for delta in chunk.choices[0].delta.tool_calls or []:
            entry = joined.setdefault(delta.index, ["", "", ""])
            entry[0] += delta.id or ""
            if delta.function is not None:
                entry[1] += delta.function.name or ""
                entry[2] += delta.function.arguments or ""
    assert joined == {
        0: ["call_abc", "get_weather", '{"city": "Paris"}'],
        1: ["call_def", "get_time", '{"tz": "CET"}'],
    }


def test_arguments_that_are_not_json_are_a_clear_error() -> None:
    call = ToolCall(id="call_x", function=Function(name="get_weather", arguments='{"city": '))
    with pytest.raises(mmkit.TransportError) as caught:
        call.parse_arguments()
    assert str(caught.value).startswith(
        "tool call call_x (get_weather): the arguments the model wrote are not JSON ("
    )
    assert str(caught.value).endswith(
        ": '{\"city\": '; read them as text from .function.arguments, or ask the model again"
    )
