"""Anthropic Messages API: to_anthropic/from_anthropic, checked against the official SDK's types."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest
from anthropic.types import MessageParam, TextBlockParam
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from recording_server import Answer, recording_server, sse

import mmkit
from mmkit import AsyncClient, Audio, Client, Image, Message, Text, Video
from mmkit.errors import (
    AuthError,
    BlockedURLError,
    InvalidOptionError,
    MediaTooLargeError,
    MmkitError,
    ServerError,
    UnsupportedFormatError,
)
from mmkit.testing import strategies as mst

MESSAGES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MESSAGE_PARAM: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(MessageParam)
SYSTEM: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(str | list[TextBlockParam])


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def sdk_valid(request: dict[str, Any]) -> None:
    """Every message validates as the anthropic SDK's MessageParam, and `system` as its type
    (the SDK's Iterable fields validate lazily: walked here so every block is checked)."""
    for message in request["messages"]:
        _walk(MESSAGE_PARAM.validate_python(message))
    if "system" in request:
        SYSTEM.validate_python(request["system"])


def _walk(value: Any) -> None:
    if isinstance(value, Iterator):  # pydantic's ValidatorIterator
        value = list(value)
    if isinstance(value, dict):
        for item in value.values():
            _walk(item)
    elif isinstance(value, list):
        for item in value:
            _walk(item)


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 30, 90)).save(buf, "PNG")
    return buf.getvalue()


def image_sizes(request: dict[str, Any]) -> list[tuple[int, int]]:
    sizes = []
    for message in request["messages"]:
        for block in message["content"]:
            if block["type"] == "image":
                data = base64.b64decode(block["source"]["data"], validate=True)
                with PILImage.open(io.BytesIO(data)) as im:
                    sizes.append(im.size)
    return sizes


# --- to_anthropic ------------------------------------------------------------------------------


def test_system_goes_top_level_and_images_become_blocks(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "rgb.png").read_bytes()
    messages = [
        Message.system("Answer in one word."),
        Message.user(
            "What is this?", images=[fixtures_dir / "rgb.png", "https://example.com/cat.jpg"]
        ),
        Message.assistant("A square."),
        Message.user("Sure?"),
    ]

    request = mmkit.to_anthropic(messages)

    assert request == {
        "system": "Answer in one word.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(raw).decode(),
                        },
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
                    },
                ],
            },
            {"role": "assistant", "content": "A square."},
            {"role": "user", "content": "Sure?"},
        ],
    }
    sdk_valid(request)


def test_openai_dicts_and_several_system_texts(fixtures_dir: Path) -> None:
    request = mmkit.to_anthropic(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "Bonjour"},
        ]
    )

    assert request == {
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use French."}],
        "messages": [{"role": "user", "content": "Bonjour"}],
    }
    sdk_valid(request)


def test_no_system_key_without_a_system_turn() -> None:
    assert mmkit.to_anthropic([Message.user("hi")]) == {
        "messages": [{"role": "user", "content": "hi"}]
    }


def test_video_goes_as_labelled_frames_that_validate(fixtures_dir: Path) -> None:
    request = mmkit.to_anthropic(
        [Message.user("What happens?", video=fixtures_dir / "clip.mp4", image=png(40, 30))]
    )

    blocks = request["messages"][0]["content"]
    # the builder puts images before videos: text, the image, then label + frame pairs
    assert [b["type"] for b in blocks[:5]] == ["text", "image", "text", "image", "text"]
    assert blocks[1]["source"]["media_type"] == "image/png"
    assert blocks[2] == {"type": "text", "text": "frame at 0:00.0"}
    assert blocks[4] == {"type": "text", "text": "frame at 0:00.1"}
    frames = [b for b in blocks[2:] if b["type"] == "image"]
    assert len(frames) == 8  # clip.mp4 (1 s, 10 frames) sampled at mmkit's default of 8
    assert {f["source"]["media_type"] for f in frames} == {"image/jpeg"}
    sdk_valid(request)


def test_video_native_is_refused_by_name(fixtures_dir: Path) -> None:
    with pytest.raises(InvalidOptionError, match="Anthropic reads no video"):
        mmkit.to_anthropic([Message.user(video=fixtures_dir / "clip.mp4")], video="native")


def test_audio_is_refused_with_an_error_that_says_so(fixtures_dir: Path) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        mmkit.to_anthropic([Message.user("Transcribe", audio=fixtures_dir / "tone.wav")])

    message = str(caught.value)
    assert message.startswith("message 1, part 2: ")
    assert "Anthropic's Messages API reads no audio" in message
    assert "gemini/" in message


def test_more_than_twenty_images_are_held_to_2000_px() -> None:
    wide = png(2400, 60)

    few = mmkit.to_anthropic([Message.user(images=[wide] * 20)])
    many = mmkit.to_anthropic([Message.user(images=[wide] * 21)])

    assert image_sizes(few) == [(2400, 60)] * 20
    assert image_sizes(many) == [(2000, 50)] * 21


def test_more_than_100_images_are_refused_naming_the_limit() -> None:
    small = png(8, 8)
    mmkit.to_anthropic([Message.user(images=[small] * 100)])

    with pytest.raises(MediaTooLargeError, match=r"this request has 101 images.*at most 100"):
        mmkit.to_anthropic([Message.user(images=[small] * 60), Message.user(images=[small] * 41)])


def test_an_image_over_8000_px_is_scaled_to_fit() -> None:
    (size,) = image_sizes(mmkit.to_anthropic([Message.user(image=png(8400, 20))]))

    assert size == (8000, 19)


def test_bmp_is_converted_to_a_type_anthropic_reads(fixtures_dir: Path) -> None:
    request = mmkit.to_anthropic([Message.user(image=fixtures_dir / "image.bmp")])

    assert request["messages"][0]["content"][0]["source"]["media_type"] == "image/jpeg"
    sdk_valid(request)


@pytest.mark.parametrize(
    ("messages", "error", "words"),
    [
        (
            [Message.user("hi"), Message.system("late")],
            InvalidOptionError,
            "message 2 is a system turn after the conversation started",
        ),
        ([Message.user("hi", name="ann")], UnsupportedFormatError, "carry no name"),
        (
            [Message.tool("42", tool_call_id="c1")],
            UnsupportedFormatError,
            "Anthropic has no 'tool' role",
        ),
        ([Message.user("  ")], InvalidOptionError, "empty or only whitespace"),
        (
            [Message("assistant", [Image(png(8, 8))])],
            UnsupportedFormatError,
            "images in user turns only",
        ),
        (
            [Message.assistant("x", tool_calls=[])],
            UnsupportedFormatError,
            "cannot carry tool_calls",
        ),
    ],
)
def test_what_anthropic_cannot_take_is_refused_by_name(
    messages: list[Message], error: type[MmkitError], words: str
) -> None:
    with pytest.raises(error, match=words):
        mmkit.to_anthropic(messages)


def test_text_several_images_and_a_video_validate_and_round_trip(fixtures_dir: Path) -> None:
    messages = [
        Message.system("Compare."),
        Message.user(
            "These",
            images=[fixtures_dir / "rgb.png", fixtures_dir / "photo.webp", "https://e.org/c.gif"],
            video=fixtures_dir / "clip.webm",
        ),
        Message.assistant("Three images and a clip."),
        Message.user("And this?", image=fixtures_dir / "photo.jpg"),
    ]

    request = mmkit.to_anthropic(messages)
    sdk_valid(request)
    back = mmkit.from_anthropic(request)

    assert [m.role for m in back] == ["system", "user", "assistant", "user"]
    assert mmkit.to_anthropic(back) == request  # the frames come back as text + image blocks


def test_openai_dicts_never_read_local_files_on_the_way_out() -> None:
    part = {"type": "image_url", "image_url": {"url": "/etc/passwd"}}
    with pytest.raises(BlockedURLError, match="local_files=True"):
        mmkit.to_anthropic([{"role": "user", "content": [part]}])


# --- from_anthropic ----------------------------------------------------------------------------


def test_from_anthropic_reads_the_request_back(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "photo.jpg").read_bytes()
    request = {
        "system": [{"type": "text", "text": "Be kind."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/jpeg",
                            "data": base64.b64encode(raw).decode(),
                        },
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://e.org/a.png"}},
                ],
            },
            {"role": "assistant", "content": "Nice"},
        ],
    }

    system, user, assistant = mmkit.from_anthropic(request)

    assert system == Message("system", [Text("Be kind.")])
    assert user.role == "user"
    text, inline, linked = user.content
    assert text == Text("Look")
    assert isinstance(inline, Image) and (inline.mime, inline.width, inline.height) == (
        "image/jpeg",
        320,
        240,
    )
    assert isinstance(linked, Image) and linked.url == "https://e.org/a.png"
    assert assistant == Message("assistant", [Text("Nice")])


@pytest.mark.parametrize("value", ["/etc/passwd", "file:///etc/passwd", "~/.ssh/id_rsa"])
def test_from_anthropic_never_reads_local_files(value: str) -> None:
    request = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "url", "url": value}}],
            }
        ]
    }
    with pytest.raises(BlockedURLError, match="local_files=True"):
        mmkit.from_anthropic(request)


def test_from_anthropic_names_an_unknown_block() -> None:
    request = {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}
    with pytest.raises(UnsupportedFormatError, match="message 1: part 1 has type 'document'"):
        mmkit.from_anthropic(request)


# --- properties --------------------------------------------------------------------------------

PASSTHROUGH = mst.images(
    mst.image_bytes(
        formats=("png", "jpeg", "webp", "gif"),
        modes=mst.PORTABLE_MODES,
        animated=False,
        exif_orientation=False,
        max_side=64,
    ),
    options=st.just({}),
)
SAID = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")


@st.composite
def anthropic_conversations(draw: st.DrawFn) -> list[Message]:
    """What Anthropic carries: an optional leading system prompt, then user/assistant turns."""
    system = draw(st.none() | mst.messages(roles=("system",), texts=SAID, names=False))
    turns = draw(
        mst.conversations(roles=("user", "assistant"), images=PASSTHROUGH, texts=SAID, names=False)
    )
    return ([system] if system is not None else []) + turns


@MESSAGES
@given(anthropic_conversations())
def test_round_trip_is_lossless(messages: list[Message]) -> None:
    request = mmkit.to_anthropic(messages)

    sdk_valid(request)
    assert mmkit.from_anthropic(request) == messages


@MESSAGES
@given(mst.conversations(audios=mst.audios(max_seconds=0.1)))
def test_any_conversation_is_a_valid_request_or_a_clear_refusal(
    messages: list[Message],
) -> None:
    try:
        request = mmkit.to_anthropic(messages)
    except MmkitError as exc:
        # the refusal names the receiver, or says what "the target" takes (image options)
        assert "Anthropic" in str(exc) or "not accepted by the target" in str(exc)
        return
    sdk_valid(request)
    assert not any(isinstance(p, Audio) for m in messages for p in m.content)


def test_round_trip_keeps_a_video_as_its_frames(fixtures_dir: Path) -> None:
    request = mmkit.to_anthropic([Message.user("Go", video=Video(fixtures_dir / "clip.mp4"))])
    (back,) = mmkit.from_anthropic(request)

    assert [type(p).__name__ for p in back.content[:3]] == ["Text", "Text", "Image"]
    assert mmkit.to_anthropic([back]) == request


# --- the transport: a recording server on 127.0.0.1 ----------------------------------------------

KEY = "sk-ant-test-0123456789abcdef"
OK = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "A red "}, {"type": "text", "text": "square."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 12, "output_tokens": 3},
}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_client_sends_the_messages_route_headers_and_mapped_params() -> None:
    with recording_server([Answer(200, OK)]) as server:
        client = Client("anthropic/claude-sonnet-4-5", base_url=server.url, api_key=KEY)
        reply = client.chat(
            [Message.system("Be brief."), Message.user("What is it?", image=png(4, 4))],
            max_tokens=50,
            temperature=0.1,
            top_p=0.9,
            top_k=5,
            stop="END",
        )

    (sent,) = server.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert sent.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "system": "Be brief.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is it?"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(png(4, 4)).decode(),
                        },
                    },
                ],
            }
        ],
        "temperature": 0.1,
        "top_p": 0.9,
        "top_k": 5,
        "stop_sequences": ["END"],
    }
    assert (reply.text, reply.finish_reason, reply.id) == ("A red square.", "stop", "msg_01")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 3)
    assert reply.usage.total_tokens == 15
    assert reply.model == "claude-sonnet-4-5"


def test_max_tokens_gets_its_documented_default_and_the_key_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with recording_server([Answer(200, OK)]) as server:
        Client("anthropic/claude-haiku-4-5", base_url=server.url).chat("hi")

    (sent,) = server.requests
    assert sent.json == {
        "model": "claude-haiku-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert sent.headers["x-api-key"] == KEY


def test_no_key_is_an_auth_error_naming_the_variable() -> None:
    with pytest.raises(AuthError, match="set the ANTHROPIC_API_KEY environment variable"):
        Client("anthropic/claude-sonnet-4-5")


def test_a_parameter_anthropic_lacks_is_refused_or_dropped() -> None:
    with recording_server([Answer(200, OK)]) as server:
        client = Client("anthropic/claude-sonnet-4-5", base_url=server.url, api_key=KEY)
        with pytest.raises(InvalidOptionError, match="does not take the parameter 'n'; Anthropic"):
            client.chat("hi", n=2)
        client.chat("hi", n=2, seed=1, drop_params=True)

    (sent,) = server.requests
    assert "n" not in sent.json and "seed" not in sent.json


def test_529_overloaded_is_retried_like_a_503() -> None:
    script = [Answer(529, OVERLOADED), Answer(200, OK)]
    with recording_server(script) as server:
        client = Client(
            "anthropic/claude-sonnet-4-5", base_url=server.url, api_key=KEY, backoff=0.01
        )
        reply = client.chat("hi")

    assert reply.attempts == 2
    assert len(server.requests) == 2


def test_529_once_retries_run_out_is_a_server_error_in_anthropics_words() -> None:
    with recording_server([Answer(529, OVERLOADED)]) as server:
        client = Client("anthropic/claude-sonnet-4-5", base_url=server.url, api_key=KEY)
        with pytest.raises(ServerError) as caught:
            client.chat("hi", max_retries=0)

    assert caught.value.status == 529
    assert str(caught.value) == "anthropic claude-sonnet-4-5: HTTP 529: Overloaded"


def test_the_key_never_reaches_an_error_or_a_repr() -> None:
    echo = {"type": "error", "error": {"type": "authentication_error", "message": f"bad {KEY}"}}
    with recording_server([Answer(401, echo)]) as server:
        client = Client("anthropic/claude-sonnet-4-5", base_url=server.url, api_key=KEY)
        with pytest.raises(AuthError) as caught:
            client.chat("hi")

    assert str(caught.value) == "anthropic claude-sonnet-4-5: HTTP 401: bad ****"
    assert KEY not in repr(caught.value)
    assert KEY not in repr(client)


STREAM = sse(
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_02",
                "model": "claude-sonnet-4-5",
                "content": [],
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
    ),
    ("content_block_start", {"type": "content_block_start", "index": 0}),
    ("ping", {"type": "ping"}),
    (
        "content_block_delta",
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hello"}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": " world"}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens"},
            "usage": {"output_tokens": 2},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
)


def test_stream_reads_named_events() -> None:
    with recording_server([Answer(200, sse=STREAM)]) as server:
        client = Client("anthropic/claude-sonnet-4-5", base_url=server.url, api_key=KEY)
        with client.stream("hi", max_tokens=2) as stream:
            pieces = list(stream)

    assert pieces == ["Hello", " world"]
    reply = stream.reply
    assert reply is not None
    assert (reply.text, reply.finish_reason, reply.id) == ("Hello world", "length", "msg_02")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 2)
    (sent,) = server.requests
    assert sent.path == "/v1/messages"
    assert sent.json["stream"] is True and sent.json["max_tokens"] == 2


def test_an_error_event_mid_stream_is_raised_in_anthropics_words() -> None:
    events = [*STREAM[:4], *sse(("error", OVERLOADED))]
    with recording_server([Answer(200, sse=events)]) as server:
        client = Client("anthropic/claude-sonnet-4-5", base_url=server.url, api_key=KEY)
        with pytest.raises(ServerError, match="the stream failed: Overloaded") as caught:
            list(client.stream("hi"))

    assert caught.value.status == 529


def test_completion_gives_an_openai_shaped_response() -> None:
    with recording_server([Answer(200, OK)]) as server:
        response = mmkit.completion(
            model="anthropic/claude-sonnet-4-5",
            messages=[{"role": "user", "content": "hi"}],
            base_url=server.url,
            api_key=KEY,
        )

    assert response.choices[0].message.content == "A red square."
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.prompt_tokens == 12


def test_async_client_sends_the_same_request() -> None:
    async def run(url: str) -> str:
        async with AsyncClient("anthropic/claude-sonnet-4-5", base_url=url, api_key=KEY) as client:
            return (await client.chat("hi", max_tokens=9)).text

    with recording_server([Answer(200, OK)]) as server:
        assert asyncio.run(run(server.url)) == "A red square."

    (sent,) = server.requests
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == KEY
    assert sent.json["max_tokens"] == 9


def test_a_litellm_style_alias_reaches_anthropic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with recording_server([Answer(200, OK)]) as server:
        config = tmp_path / "config.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: claude\n"
            "    litellm_params:\n"
            "      model: anthropic/claude-sonnet-4-5\n"
            "      api_key: os.environ/ANTHROPIC_API_KEY\n"
            f"      api_base: {server.url}\n"
            "      max_tokens: 20\n"
            "      top_k: 3\n"
        )
        assert Client.from_config(config, "claude").chat("hi").text == "A red square."

    (sent,) = server.requests
    assert sent.headers["x-api-key"] == KEY
    assert (sent.json["max_tokens"], sent.json["top_k"]) == (20, 3)


# --- the local conformance server: anthropic/echo ------------------------------------------------


def test_anthropic_echo_decodes_and_describes_what_it_was_sent(fixtures_dir: Path) -> None:
    reply = Client("anthropic/echo").chat(
        [
            Message.system("Be brief."),
            Message.user(
                "Describe", images=[fixtures_dir / "rgb.png", "https://example.com/cat.jpg?sig=1"]
            ),
        ]
    )

    assert reply.text == 'text "Describe"; image 320×240 PNG; image URL https://example.com/cat.jpg'
    assert reply.finish_reason == "stop"
    # words of the system prompt and the text, 85 an image; one token a word piece
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (173, 8)
    assert reply.provider == "anthropic-echo"


def test_anthropic_echo_streams_named_events_cut_at_max_tokens(fixtures_dir: Path) -> None:
    client = Client("anthropic/echo")
    with client.stream(
        [Message.user("What is it?", image=fixtures_dir / "rgb.png")], max_tokens=3
    ) as s:
        pieces = list(s)

    assert pieces == ["text", ' "What', " is"]
    assert s.reply is not None
    assert (s.reply.text, s.reply.finish_reason) == ('text "What is', "length")
    assert (s.reply.usage.prompt_tokens, s.reply.usage.completion_tokens) == (88, 3)


def test_anthropic_echo_video_arrives_as_frames(fixtures_dir: Path) -> None:
    reply = Client("anthropic/echo").chat([Message.user(video=fixtures_dir / "clip.mp4")])

    assert reply.text.startswith('text "frame at 0:00.0"; image 96×64 JPEG; text "frame at 0:00.1"')
    assert reply.text.count("image 96×64 JPEG") == 8


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    import httpx

    response = httpx.post(f"{url}/v1/messages", json=body, headers=headers or {})
    return response.status_code, response.json()


def test_the_server_refuses_what_anthropic_refuses_in_its_error_shape(
    server: Any, fixtures_dir: Path
) -> None:
    jpeg = base64.b64encode((fixtures_dir / "photo.jpg").read_bytes()).decode()
    user = {"role": "user", "content": "hi"}

    assert _post(server.base_url, {"model": "m", "messages": [user]}) == (
        400,
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        },
    )
    mislabelled = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": jpeg},
    }
    status, body = _post(
        server.base_url,
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [mislabelled]}]},
    )
    assert (status, body["error"]["message"]) == (
        400,
        "messages.0.content.0: declared image/png but the bytes are image/jpeg",
    )
    status, body = _post(
        server.base_url,
        {"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
    )
    assert (status, body["error"]["message"]) == (
        400,
        "messages.0.role: must be 'user' or 'assistant', not 'system'",
    )


def test_the_server_checks_x_api_key_and_injects_529s() -> None:
    from mmkit.server import ServerOptions, serve_in_thread

    options = ServerOptions(api_key="local-key", script=(529,))
    with serve_in_thread(options) as running:
        good = Client(
            "anthropic/echo", base_url=running.base_url, api_key="local-key", backoff=0.01
        )
        reply = good.chat("hi")  # the first request gets the scripted 529, the retry an answer
        bad = Client("anthropic/echo", base_url=running.base_url, api_key="wrong-key")
        with pytest.raises(AuthError) as caught:
            bad.chat("hi")

    assert (reply.text, reply.attempts) == ('text "hi"', 2)
    assert str(caught.value) == "anthropic-echo echo: HTTP 401: invalid x-api-key"


def test_injected_faults_answer_in_anthropics_error_shape() -> None:
    from mmkit.server import ServerOptions, serve_in_thread

    with serve_in_thread(ServerOptions(script=(529,))) as running:
        status, body = _post(running.base_url, {"model": "m", "max_tokens": 5, "messages": []})

    assert (status, body) == (
        529,
        {
            "type": "error",
            "error": {
                "type": "overloaded_error",
                "message": "HTTP 529 (injected by the mmkit conformance server)",
            },
        },
    )


def test_async_stream_through_anthropic_echo(fixtures_dir: Path) -> None:
    async def run() -> tuple[list[str], str | None]:
        async with AsyncClient("anthropic/echo") as client:
            stream = client.stream([Message.user("Look", image=fixtures_dir / "rgb.png")])
            pieces = [piece async for piece in stream]
            return pieces, stream.reply.finish_reason if stream.reply else None

    pieces, finish = asyncio.run(run())

    assert pieces == ["text", ' "Look";', " image", " 320×240", " PNG"]
    assert finish == "stop"


def test_nothing_after_message_stop_is_read() -> None:
    late = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": " late"}}
    with recording_server([Answer(200, sse=[*STREAM, *sse(("content_block_delta", late))])]) as s:
        client = Client("anthropic/claude-sonnet-4-5", base_url=s.url, api_key=KEY)
        assert "".join(client.stream("hi")) == "Hello world"
