"""Gemini API: to_gemini/from_gemini, checked against google-genai's own types."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import pytest
from google.genai import types
from helpers import serve_folder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from recording_server import Answer, recording_server, sse

import mmkit
from mmkit import AsyncClient, Audio, Client, Image, Message, Text, Video
from mmkit.errors import (
    AuthError,
    BadRequestError,
    BlockedURLError,
    InvalidOptionError,
    MediaTooLargeError,
    MmkitError,
    UnsupportedFormatError,
)
from mmkit.media.fetch import FetchPolicy
from mmkit.testing import strategies as mst

MESSAGES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def sdk_valid(request: dict[str, Any]) -> None:
    """Every content validates as google-genai's types.Content (extra fields forbidden), and
    the system instruction too."""
    for content in request["contents"]:
        types.Content.model_validate(content)
    if "systemInstruction" in request:
        types.Content.model_validate(request["systemInstruction"])


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), (20, 130, 90)).save(buf, "PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- to_gemini ---------------------------------------------------------------------------------


def test_system_instruction_contents_and_inline_media(fixtures_dir: Path) -> None:
    image = (fixtures_dir / "rgb.png").read_bytes()
    sound = (fixtures_dir / "tone.flac").read_bytes()
    clip = (fixtures_dir / "clip.mp4").read_bytes()
    messages = [
        Message.system("Answer in one word."),
        Message.user(
            "What is this?",
            image=fixtures_dir / "rgb.png",
            audio=fixtures_dir / "tone.flac",
            video=fixtures_dir / "clip.mp4",
        ),
        Message.assistant("Noise."),
    ]

    request = mmkit.to_gemini(messages)

    assert request == {
        "systemInstruction": {"parts": [{"text": "Answer in one word."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "What is this?"},
                    {"inline_data": {"mime_type": "image/png", "data": b64(image)}},
                    {"inline_data": {"mime_type": "audio/flac", "data": b64(sound)}},
                    {"inline_data": {"mime_type": "video/mp4", "data": b64(clip)}},
                ],
            },
            {"role": "model", "parts": [{"text": "Noise."}]},
        ],
    }
    sdk_valid(request)


def test_an_image_url_is_fetched_and_sent_inline(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "photo.jpg").read_bytes()
    with serve_folder(fixtures_dir) as base:
        request = mmkit.to_gemini(
            [Message.user(image=f"{base}/photo.jpg")],
            fetch=FetchPolicy(allow_private=("127.0.0.1",)),
        )

    assert request["contents"][0]["parts"] == [
        {"inline_data": {"mime_type": "image/jpeg", "data": b64(raw)}}
    ]


@pytest.mark.parametrize(
    ("fixture", "mime"),
    [
        ("tone.wav", "audio/wav"),
        ("tone_id3.mp3", "audio/mp3"),  # Gemini's own name for MPEG audio
        ("tone.aiff", "audio/aiff"),
        ("tone_adts.aac", "audio/aac"),
        ("tone_vorbis.ogg", "audio/ogg"),
    ],
)
def test_audio_gemini_reads_goes_as_it_is(fixtures_dir: Path, fixture: str, mime: str) -> None:
    raw = (fixtures_dir / fixture).read_bytes()
    request = mmkit.to_gemini([Message.user(audio=fixtures_dir / fixture)])

    assert request["contents"][0]["parts"] == [
        {"inline_data": {"mime_type": mime, "data": b64(raw)}}
    ]
    sdk_valid(request)


def test_audio_gemini_does_not_read_is_converted(fixtures_dir: Path) -> None:
    request = mmkit.to_gemini([Message.user(audio=fixtures_dir / "tone_aac.m4a")])

    (part,) = request["contents"][0]["parts"]
    assert part["inline_data"]["mime_type"] == "audio/wav"
    assert base64.b64decode(part["inline_data"]["data"])[:4] == b"RIFF"


def test_gif_and_bmp_are_converted_to_types_gemini_reads(fixtures_dir: Path) -> None:
    request = mmkit.to_gemini(
        [Message.user(images=[fixtures_dir / "still.gif", fixtures_dir / "image.bmp"])]
    )

    mimes = [p["inline_data"]["mime_type"] for p in request["contents"][0]["parts"]]
    assert mimes == ["image/png", "image/jpeg"]


def test_mkv_video_is_converted_to_mp4(fixtures_dir: Path) -> None:
    request = mmkit.to_gemini([Message.user(video=fixtures_dir / "clip.mkv")])

    (part,) = request["contents"][0]["parts"]
    assert part["inline_data"]["mime_type"] == "video/mp4"
    assert base64.b64decode(part["inline_data"]["data"])[4:8] == b"ftyp"


def test_inline_data_past_the_limit_is_refused_naming_it() -> None:
    image = png(8, 8)
    size = len(b64(image))
    mmkit.to_gemini([Message.user(images=[image] * 3)], max_inline_bytes=3 * size)

    with pytest.raises(MediaTooLargeError) as caught:
        mmkit.to_gemini([Message.user(images=[image] * 3)], max_inline_bytes=3 * size - 1)
    assert f"{3 * size:,} bytes of inline media" in str(caught.value)
    assert f"over Gemini's {3 * size - 1:,}-byte inline limit" in str(caught.value)


def test_the_default_inline_limit_is_20_mb() -> None:
    noise = PILImage.effect_noise((1800, 1800), 128).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, "PNG")  # ~9.7 MB of base64 each
    image = Image(buf.getvalue())
    mmkit.to_gemini([Message.user(images=[image] * 2)])

    with pytest.raises(MediaTooLargeError, match="over Gemini's 20,971,520-byte inline limit"):
        mmkit.to_gemini([Message.user(images=[image] * 3)])


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
            "Gemini has no 'tool' role",
        ),
        ([Message.user("")], InvalidOptionError, "Gemini refuses an empty text part"),
        (
            [Message("system", [Image(png(8, 8))])],
            UnsupportedFormatError,
            "systemInstruction takes text only",
        ),
    ],
)
def test_what_gemini_cannot_take_is_refused_by_name(
    messages: list[Message], error: type[MmkitError], words: str
) -> None:
    with pytest.raises(error, match=words):
        mmkit.to_gemini(messages)


def test_text_several_images_audio_and_video_validate_and_round_trip(fixtures_dir: Path) -> None:
    with serve_folder(fixtures_dir) as base:
        messages = [
            Message.system("Compare."),
            Message.user(
                "These",
                images=[fixtures_dir / "rgb.png", f"{base}/photo.jpg"],
                audio=fixtures_dir / "tone_vorbis.ogg",
                video=fixtures_dir / "clip.mp4",
            ),
            Message.assistant("Two images, a tone and a clip."),
        ]
        request = mmkit.to_gemini(messages, fetch=FetchPolicy(allow_private=("127.0.0.1",)))

    sdk_valid(request)
    back = mmkit.from_gemini(request)
    assert [type(p).__name__ for p in back[1].content] == [
        "Text",
        "Image",
        "Image",
        "Audio",
        "Video",
    ]
    assert mmkit.to_gemini(back) == request


def test_openai_dicts_never_read_local_files_on_the_way_out() -> None:
    part = {"type": "image_url", "image_url": {"url": "/etc/passwd"}}
    with pytest.raises(BlockedURLError, match="local_files=True"):
        mmkit.to_gemini([{"role": "user", "content": [part]}])


# --- from_gemini -------------------------------------------------------------------------------


def test_from_gemini_reads_both_spellings_back(fixtures_dir: Path) -> None:
    sound = (fixtures_dir / "tone.wav").read_bytes()
    request = {
        "system_instruction": {"parts": [{"text": "Be kind."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Listen"},
                    {"inlineData": {"mimeType": "audio/wav", "data": b64(sound)}},
                    {
                        "file_data": {
                            "mime_type": "video/mp4",
                            "file_uri": "https://e.org/clip.mp4",
                        }
                    },
                ],
            },
            {"role": "model", "parts": [{"text": "A tone"}]},
        ],
    }

    system, user, model = mmkit.from_gemini(request)

    assert system == Message("system", [Text("Be kind.")])
    text, audio, video = user.content
    assert text == Text("Listen")
    assert isinstance(audio, Audio) and (audio.mime, audio.sample_rate) == ("audio/wav", 16000)
    assert isinstance(video, Video) and video.url == "https://e.org/clip.mp4"
    assert model == Message("assistant", [Text("A tone")])


@pytest.mark.parametrize("value", ["/etc/passwd", "file:///etc/passwd", "~/.ssh/id_rsa"])
def test_from_gemini_never_reads_local_files(value: str) -> None:
    request = {
        "contents": [
            {
                "role": "user",
                "parts": [{"file_data": {"mime_type": "image/png", "file_uri": value}}],
            }
        ]
    }
    with pytest.raises(BlockedURLError, match="local_files=True"):
        mmkit.from_gemini(request)


def test_from_gemini_names_an_unknown_part() -> None:
    request = {"contents": [{"role": "user", "parts": [{"functionCall": {"name": "f"}}]}]}
    with pytest.raises(
        UnsupportedFormatError, match=r"message 1: part 1 has keys \['functionCall'\]"
    ):
        mmkit.from_gemini(request)


# --- properties --------------------------------------------------------------------------------

# Images Gemini takes as they are (no GIF: it is converted to PNG, so it would not round trip).
PASSTHROUGH = mst.images(
    mst.image_bytes(
        formats=("png", "jpeg", "webp"),
        modes=mst.PORTABLE_MODES,
        animated=False,
        exif_orientation=False,
    ),
    options=st.just({}),
)
SOUNDS = mst.audios(formats=("wav", "flac", "mp3"), max_seconds=0.1)
SAID = st.text(min_size=1, max_size=40)


@st.composite
def gemini_conversations(draw: st.DrawFn) -> list[Message]:
    """What Gemini carries: an optional leading system instruction, then user/assistant turns."""
    system = draw(st.none() | mst.messages(roles=("system",), texts=SAID, names=False))
    turns = draw(
        mst.conversations(roles=("user", "assistant"), images=PASSTHROUGH, texts=SAID, names=False)
    )
    return ([system] if system is not None else []) + turns


@MESSAGES
@given(gemini_conversations())
def test_round_trip_is_lossless(messages: list[Message]) -> None:
    request = mmkit.to_gemini(messages)

    sdk_valid(request)
    assert mmkit.from_gemini(request) == messages


@MESSAGES
@given(mst.conversations(audios=SOUNDS))
def test_any_conversation_is_a_valid_request_or_a_clear_refusal(
    messages: list[Message],
) -> None:
    try:
        request = mmkit.to_gemini(messages)
    except MmkitError as exc:
        # the refusal names the receiver, or says what "the target" takes (image options)
        assert "Gemini" in str(exc) or "not accepted by the target" in str(exc)
        return
    sdk_valid(request)
    assert mmkit.to_gemini(mmkit.from_gemini(request)) == request  # stable after one trip


def test_round_trip_of_audio_and_video(fixtures_dir: Path) -> None:
    request = mmkit.to_gemini(
        [Message.user("Go", audio=fixtures_dir / "tone.flac", video=fixtures_dir / "clip.webm")]
    )
    (back,) = mmkit.from_gemini(request)

    assert [type(p).__name__ for p in back.content] == ["Text", "Audio", "Video"]
    assert mmkit.to_gemini([back]) == request


# --- the transport: a recording server on 127.0.0.1 ----------------------------------------------

KEY = "AIza-test-0123456789abcdef"
OK = {
    "candidates": [
        {
            "content": {"role": "model", "parts": [{"text": "A green "}, {"text": "square."}]},
            "finishReason": "STOP",
        },
        {"content": {"role": "model", "parts": [{"text": "Green."}]}, "finishReason": "STOP"},
    ],
    "usageMetadata": {"promptTokenCount": 270, "candidatesTokenCount": 4, "totalTokenCount": 274},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "resp-1",
}


def test_client_sends_the_generate_route_header_and_generation_config() -> None:
    with recording_server([Answer(200, OK)]) as server:
        client = Client("gemini/gemini-2.5-flash", base_url=server.url, api_key=KEY)
        reply = client.chat(
            [Message.system("Be brief."), Message.user("What is it?", image=png(4, 4))],
            max_tokens=50,
            temperature=0.1,
            top_p=0.9,
            top_k=5,
            stop="END",
            n=2,
            seed=7,
        )

    (sent,) = server.requests
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == KEY
    assert "authorization" not in sent.headers
    assert sent.json == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "What is it?"},
                    {"inline_data": {"mime_type": "image/png", "data": b64(png(4, 4))}},
                ],
            }
        ],
        "generationConfig": {
            "maxOutputTokens": 50,
            "temperature": 0.1,
            "topP": 0.9,
            "topK": 5,
            "stopSequences": ["END"],
            "candidateCount": 2,
            "seed": 7,
        },
    }
    assert (reply.text, reply.texts) == ("A green square.", ["A green square.", "Green."])
    assert (reply.finish_reason, reply.id, reply.model) == ("stop", "resp-1", "gemini-2.5-flash")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (270, 4)
    assert reply.usage.total_tokens == 274


def test_no_generation_config_without_parameters() -> None:
    with recording_server([Answer(200, OK)]) as server:
        Client("gemini/gemini-2.5-flash", base_url=server.url, api_key=KEY).chat("hi")

    assert server.requests[0].json == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.mark.parametrize(
    ("env", "sent"),
    [
        ({"GOOGLE_API_KEY": "google-key"}, "google-key"),
        ({"GEMINI_API_KEY": "gemini-key"}, "gemini-key"),
        ({"GEMINI_API_KEY": "gemini-key", "GOOGLE_API_KEY": "google-key"}, "gemini-key"),
    ],
)
def test_the_key_comes_from_gemini_api_key_else_google_api_key(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], sent: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with recording_server([Answer(200, OK)]) as server:
        Client("gemini/gemini-2.5-flash", base_url=server.url).chat("hi")

    assert server.requests[0].headers["x-goog-api-key"] == sent


def test_no_key_is_an_auth_error_naming_both_variables() -> None:
    with pytest.raises(AuthError, match=r"set the GEMINI_API_KEY \(or GOOGLE_API_KEY\)"):
        Client("gemini/gemini-2.5-flash")


def test_an_error_reply_is_typed_and_scrubbed_of_the_key() -> None:
    body = {
        "error": {"code": 400, "message": f"API key {KEY} not valid", "status": "INVALID_ARGUMENT"}
    }
    with recording_server([Answer(400, body)]) as server:
        client = Client("gemini/gemini-2.5-flash", base_url=server.url, api_key=KEY)
        with pytest.raises(BadRequestError) as caught:
            client.chat("hi")

    assert str(caught.value) == "gemini gemini-2.5-flash: HTTP 400: API key **** not valid"
    assert KEY not in repr(client)


def test_a_wrong_key_is_an_auth_error_though_gemini_answers_400() -> None:
    body = {  # what the Gemini API answers a key it does not know
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        }
    }
    with recording_server([Answer(400, body)]) as server:
        client = Client("gemini/gemini-2.5-flash", base_url=server.url, api_key=KEY)
        with pytest.raises(AuthError) as caught:
            client.chat("hi")
    assert caught.value.status == 400
    assert str(caught.value) == (
        "gemini gemini-2.5-flash: HTTP 400: API key not valid. Please pass a valid API key."
    )


def test_a_blocked_prompt_is_a_bad_request_naming_the_reason() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}}
    with recording_server([Answer(200, blocked)]) as server:
        client = Client("gemini/gemini-2.5-flash", base_url=server.url, api_key=KEY)
        with pytest.raises(BadRequestError, match=r"Gemini blocked the prompt \(SAFETY\)"):
            client.chat("hi")


def test_503_is_retried() -> None:
    unavailable = {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
    with recording_server([Answer(503, unavailable), Answer(200, OK)]) as server:
        client = Client("gemini/gemini-2.5-flash", base_url=server.url, api_key=KEY, backoff=0.01)
        assert client.chat("hi").attempts == 2


STREAM = sse(
    (None, {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}}]}),
    (
        None,
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": " world"}]},
                    "finishReason": "MAX_TOKENS",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 3,
                "candidatesTokenCount": 2,
                "totalTokenCount": 5,
            },
            "modelVersion": "gemini-2.5-flash",
        },
    ),
)


def test_stream_uses_the_sse_method_and_reads_each_chunk() -> None:
    with recording_server([Answer(200, sse=STREAM)]) as server:
        client = Client("gemini/gemini-2.5-flash", base_url=server.url, api_key=KEY)
        with client.stream("hi", max_tokens=2) as stream:
            pieces = list(stream)

    assert pieces == ["Hello", " world"]
    reply = stream.reply
    assert reply is not None
    assert (reply.text, reply.finish_reason) == ("Hello world", "length")
    assert (reply.usage.prompt_tokens, reply.usage.total_tokens) == (3, 5)
    (sent,) = server.requests
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert "stream" not in sent.json
    assert sent.json["generationConfig"] == {"maxOutputTokens": 2}


def test_completion_and_the_async_client() -> None:
    async def run(url: str) -> str:
        async with AsyncClient("gemini/gemini-2.5-flash", base_url=url, api_key=KEY) as client:
            return (await client.chat("hi")).text

    with recording_server([Answer(200, OK)]) as server:
        response = mmkit.completion(
            model="gemini/gemini-2.5-flash",
            messages=[{"role": "user", "content": "hi"}],
            base_url=server.url,
            api_key=KEY,
        )
        assert asyncio.run(run(server.url)) == "A green square."

    assert response.choices[0].message.content == "A green square."
    assert [c.message.content for c in response.choices] == ["A green square.", "Green."]
    assert response.usage is not None and response.usage.total_tokens == 274
    assert [r.path for r in server.requests] == [
        "/v1beta/models/gemini-2.5-flash:generateContent"
    ] * 2


# --- the local conformance server: gemini/echo ---------------------------------------------------


def test_gemini_echo_decodes_images_audio_and_video(fixtures_dir: Path) -> None:
    reply = Client("gemini/echo").chat(
        [
            Message.system("Be brief."),
            Message.user(
                "Describe",
                image=fixtures_dir / "photo.webp",
                audio=fixtures_dir / "tone.wav",
                video=fixtures_dir / "clip.webm",
            ),
        ],
        n=2,
    )

    expected = 'text "Describe"; image 320×240 WEBP; audio 1.0 s 16 kHz mono; video 1.0 s 96×64 vp9'
    assert reply.texts == [expected, expected]  # candidateCount=2
    assert reply.finish_reason == "stop"
    # words (system and user) + 85 an image, 50 an audio, 200 a video
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (338, 16)
    assert reply.provider == "gemini-echo"


def test_gemini_echo_streams_over_alt_sse(fixtures_dir: Path) -> None:
    client = Client("gemini/echo")
    with client.stream(
        [Message.user("Hear this", audio=fixtures_dir / "tone.flac")], max_tokens=4
    ) as s:
        pieces = list(s)

    assert pieces == ["text", ' "Hear', ' this";', " audio"]
    assert s.reply is not None
    assert (s.reply.finish_reason, s.reply.usage.completion_tokens) == ("length", 4)


def _post(url: str, body: dict[str, Any], method: str = "generateContent") -> Any:
    import httpx

    response = httpx.post(f"{url}/v1beta/models/echo:{method}", json=body)
    return response.status_code, response.json()


def test_the_server_refuses_what_gemini_refuses_in_its_error_shape(
    server: Any, fixtures_dir: Path
) -> None:
    gif = b64((fixtures_dir / "still.gif").read_bytes())
    hi = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

    assert _post(server.base_url, hi, "streamGenerateContent") == (
        400,
        {
            "error": {
                "code": 400,
                "message": "the conformance server streams with alt=sse only",
                "status": "INVALID_ARGUMENT",
            }
        },
    )
    status, body = _post(
        server.base_url,
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inline_data": {"mime_type": "image/gif", "data": gif}}],
                }
            ]
        },
    )
    assert (status, body["error"]["message"]) == (
        400,
        "contents[0].parts[0].inline_data: Unsupported MIME type: image/gif",
    )
    status, body = _post(
        server.base_url, {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}
    )
    assert (status, body["error"]["message"]) == (
        400,
        "contents[0].role: please use a valid role: user, model",
    )


def test_the_server_checks_x_goog_api_key() -> None:
    from mmkit.server import ServerOptions, serve_in_thread

    with serve_in_thread(ServerOptions(api_key="local-key", script=(503,))) as running:
        good = Client("gemini/echo", base_url=running.base_url, api_key="local-key", backoff=0.01)
        reply = good.chat("hi")
        bad = Client("gemini/echo", base_url=running.base_url)
        with pytest.raises(AuthError) as caught:
            bad.chat("hi")

    assert (reply.text, reply.attempts) == ('text "hi"', 2)
    assert str(caught.value) == (
        "gemini-echo echo: HTTP 403: Method doesn't allow unregistered callers; send x-goog-api-key"
    )


def test_injected_faults_answer_in_googles_error_shape() -> None:
    from mmkit.server import ServerOptions, serve_in_thread

    with serve_in_thread(ServerOptions(script=(429,))) as running:
        status, body = _post(running.base_url, {"contents": []})

    assert status == 429
    assert body["error"]["code"] == 429 and body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert body["error"]["message"].endswith("(injected by the mmkit conformance server)")


def test_async_stream_through_gemini_echo(fixtures_dir: Path) -> None:
    async def run() -> tuple[list[str], str | None]:
        async with AsyncClient("gemini/echo") as client:
            stream = client.stream([Message.user("Hear", audio=fixtures_dir / "tone.wav")])
            pieces = [piece async for piece in stream]
            return pieces, stream.reply.finish_reason if stream.reply else None

    pieces, finish = asyncio.run(run())

    assert pieces == ["text", ' "Hear";', " audio", " 1.0", " s", " 16", " kHz", " mono"]
    assert finish == "stop"
