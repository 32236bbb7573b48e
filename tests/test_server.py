"""The conformance server over real sockets: routes, streaming, auth, rejections, faults."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmkit.errors import ConfigError, InvalidOptionError
from mmkit.server import RunningServer, ServerOptions, serve_in_thread, shared_echo_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OPENAI_ROUTES = [
    "/v1/chat/completions",
    "/chat/completions",
    "/models/v2/openai/v1/chat/completions",
]
BYTEZ_ROUTE = "/models/v2/google/gemma-3-4b-it"
KEY = "sk-test-0123456789-secret"


def b64(name: str) -> str:
    return base64.b64encode((FIXTURES / name).read_bytes()).decode()


def data_uri(name: str, mime: str) -> str:
    return f"data:{mime};base64,{b64(name)}"


def user(*parts: dict[str, Any] | str) -> list[dict[str, Any]]:
    content = [{"type": "text", "text": p} if isinstance(p, str) else p for p in parts]
    return [{"role": "user", "content": content}]


def image_part(name: str, mime: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_uri(name, mime)}}


def chat(
    client: httpx.Client, messages: Any, route: str = OPENAI_ROUTES[0], **extra: Any
) -> httpx.Response:
    return client.post(route, json={"model": "echo", "messages": messages, **extra})


def content_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def assert_openai_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


def assert_bytez_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["output"] is None and isinstance(body["error"], str)
    return str(body["error"])


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[httpx.Client]:
    # A generous limit: the first media decodes on a loaded machine took over 10 s.
    with httpx.Client(base_url=server.base_url, timeout=60) as c:
        yield c


def serve(**options: Any) -> RunningServer:
    return serve_in_thread(ServerOptions(**options))


# --- routes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/models", "/models"])
def test_models_lists_echo(client: httpx.Client, path: str) -> None:
    body = client.get(path).json()
    assert body == {
        "object": "list",
        "data": [{"id": "echo", "object": "model", "owned_by": "mmkit"}],
    }


@pytest.mark.parametrize("route", OPENAI_ROUTES)
def test_openai_reply_shape(client: httpx.Client, route: str) -> None:
    response = chat(
        client,
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is in this picture?"},
        ],
        route,
    )
    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "chat.completion" and body["model"] == "echo"
    assert isinstance(body["id"], str) and isinstance(body["created"], int)
    choice = body["choices"][0]
    reply = {"role": "assistant", "content": 'text "What is in this picture?"'}
    assert choice == {"index": 0, "finish_reason": "stop", "message": reply}
    # 2 + 5 words of text; the reply has 6 words.
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}


def test_describes_each_kind_of_media(client: httpx.Client) -> None:
    messages = user(
        "What is in this picture?",
        image_part("rgb.png", "image/png"),
        image_part("photo.jpg", "image/jpeg"),
        {"type": "input_audio", "input_audio": {"data": b64("tone.wav"), "format": "wav"}},
        {"type": "video_url", "video_url": {"url": data_uri("clip.mp4", "video/mp4")}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png?sig=SECRET"}},
    )
    response = chat(client, messages)
    assert content_of(response) == (
        'text "What is in this picture?"; image 320×240 PNG; image 320×240 JPEG; '
        "audio 1.0 s 16 kHz mono; video 1.0 s 96×64 h264; image URL https://example.com/cat.png"
    )
    # 5 words + 3 images × 85 + 1 audio × 50 + 1 video × 200
    assert response.json()["usage"]["prompt_tokens"] == 5 + 3 * 85 + 50 + 200


def test_describes_only_the_last_user_message_and_marks_a_cut_at_40(client: httpx.Client) -> None:
    long_text = "one two three four five six seven eight nine ten eleven"
    messages = [
        *user("first question", image_part("photo.jpg", "image/jpeg")),
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": long_text},
    ]
    assert content_of(chat(client, messages)) == 'text "one two three four five six seven eight …"'


def test_audio_by_url_part_and_file_part(client: httpx.Client) -> None:
    messages = user(
        {"type": "audio_url", "audio_url": {"url": data_uri("tone.wav", "audio/wav")}},
        {
            "type": "file",
            "file": {"file_data": data_uri("photo.jpg", "image/jpeg"), "filename": "photo.jpg"},
        },
    )
    assert content_of(chat(client, messages)) == "audio 1.0 s 16 kHz mono; image 320×240 JPEG"


def test_max_tokens_truncates_with_finish_reason_length(client: httpx.Client) -> None:
    messages = user("alpha beta gamma delta", image_part("photo.jpg", "image/jpeg"))
    body = chat(client, messages, max_tokens=3).json()
    assert body["choices"][0]["message"]["content"] == 'text "alpha beta'
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3
    body = chat(client, messages, max_tokens=100).json()
    assert body["choices"][0]["finish_reason"] == "stop"


def test_openai_sse_stream_joins_to_the_content(client: httpx.Client) -> None:
    messages = user("Describe  this   please", image_part("rgb.png", "image/png"))
    full = content_of(chat(client, messages))
    payload = {
        "model": "echo",
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", "/v1/chat/completions", json=payload) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks]
    assert len([p for p in pieces if p]) == len(full.split())
    assert "".join(pieces) == full
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == len(full.split())
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_openai_stream_honours_max_tokens(client: httpx.Client) -> None:
    payload = {"model": "echo", "messages": user("a b c d e f"), "stream": True, "max_tokens": 2}
    with client.stream("POST", "/v1/chat/completions", json=payload) as response:
        chunks = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")
        ]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == 'text "a'
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert "usage" not in chunks[-1]


# --- Bytez -------------------------------------------------------------------------------------


def bytez_messages() -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image", "base64": data_uri("photo.jpg", "image/jpeg")},
                {"type": "image", "url": "https://cdn.example.org/x/y.webp?token=abc"},
                {"type": "audio", "base64": data_uri("tone.wav", "audio/wav")},
                {"type": "video", "base64": data_uri("clip.mp4", "video/mp4")},
            ],
        }
    ]


def test_bytez_reply_and_headers(client: httpx.Client) -> None:
    response = client.post(
        BYTEZ_ROUTE,
        json={"messages": bytez_messages(), "stream": False, "params": {"temperature": 0.5}},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "error": None,
        "output": {
            "role": "assistant",
            "content": (
                'text "Compare"; image 320×240 JPEG; image URL https://cdn.example.org/x/y.webp; '
                "audio 1.0 s 16 kHz mono; video 1.0 s 96×64 h264"
            ),
        },
    }
    for header in (
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "inference-meter",
        "inference-time",
    ):
        assert header in response.headers
    assert int(response.headers["ratelimit-remaining"]) < int(response.headers["ratelimit-limit"])


@pytest.mark.parametrize(
    ("kind", "fixture", "metered"),
    [
        # 2 words of text + 85 an image, 50 an audio, 200 a video + 1 reply token
        ("image", "photo.jpg", 88),
        ("audio", "tone.wav", 53),
        ("video", "clip.mp4", 203),
    ],
)
def test_bytez_meters_raw_base64_media_parts(
    client: httpx.Client, kind: str, fixture: str, metered: int
) -> None:
    part = {"type": kind, "base64": b64(fixture)}  # raw base64: no data: header
    messages = [{"role": "user", "content": [{"type": "text", "text": "Describe this"}, part]}]
    response = client.post(
        BYTEZ_ROUTE, json={"messages": messages, "params": {"max_new_tokens": 1}}
    )
    assert response.status_code == 200, response.text
    assert response.headers["inference-meter"] == str(metered)


def test_bytez_max_new_tokens_and_content_as_list() -> None:
    with serve(bytez_content_as_list=True) as running, httpx.Client(timeout=60) as c:
        response = c.post(
            running.base_url + BYTEZ_ROUTE,
            json={"messages": user("one two three four"), "params": {"max_new_tokens": 2}},
        )
    assert response.json()["output"]["content"] == [{"type": "text", "text": 'text "one'}]


def test_bytez_stream_is_plain_text(client: httpx.Client) -> None:
    full = client.post(BYTEZ_ROUTE, json={"messages": bytez_messages()}).json()["output"]
    with client.stream(
        "POST", BYTEZ_ROUTE, json={"messages": bytez_messages(), "stream": True}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert response.headers.get("transfer-encoding") == "chunked"
        text = "".join(response.iter_text())
    assert text == full["content"]
    assert "data:" not in text


def test_bytez_accepts_any_pillow_image_openai_only_its_four(client: httpx.Client) -> None:
    part = {"type": "image", "base64": data_uri("image.bmp", "image/bmp")}
    response = client.post(BYTEZ_ROUTE, json={"messages": user(part)})
    assert response.json()["output"]["content"] == "image 100×80 BMP"
    message = assert_openai_error(chat(client, user(image_part("image.bmp", "image/bmp"))), 400)
    assert "unsupported image" in message


# --- auth --------------------------------------------------------------------------------------


def test_auth_for_both_shapes() -> None:
    with serve(api_key=KEY) as running, httpx.Client(base_url=running.base_url, timeout=60) as c:
        body = {"model": "echo", "messages": user("hi")}
        responses = []
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Key {KEY}"}):
            response = c.post("/v1/chat/completions", json=body, headers=headers)
            assert_openai_error(response, 401)
            responses.append(response)
        assert_openai_error(c.get("/v1/models"), 401)
        ok = c.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
        assert content_of(ok) == 'text "hi"'

        bytez = {"messages": user("hi")}
        for headers in ({}, {"Authorization": "Key nope"}, {"Authorization": f"Bearer {KEY}"}):
            response = c.post(BYTEZ_ROUTE, json=bytez, headers=headers)
            assert assert_bytez_error(response, 401) == "Unauthorized"
            responses.append(response)
        ok = c.post(BYTEZ_ROUTE, json=bytez, headers={"Authorization": f"Key {KEY}"})
        assert ok.json()["output"]["content"] == 'text "hi"'
    for response in [*responses, ok]:
        assert KEY not in response.text
        assert KEY not in str(response.headers)


def test_options_repr_hides_the_key() -> None:
    assert KEY not in repr(ServerOptions(api_key=KEY))


# --- rejections --------------------------------------------------------------------------------


def test_not_json_and_not_an_object(client: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    assert_openai_error(client.post("/v1/chat/completions", content=b"{nope", headers=headers), 400)
    assert_openai_error(
        client.post("/v1/chat/completions", content=b"[1, 2]", headers=headers), 400
    )
    assert_bytez_error(client.post(BYTEZ_ROUTE, content=b"\xff\xfe", headers=headers), 400)


@pytest.mark.parametrize(
    "messages",
    [
        None,
        "hello",
        [],
        [{"content": "no role"}],
        [{"role": "wizard", "content": "x"}],
        [{"role": "user", "content": 42}],
        [{"role": "user"}],
        ["not an object"],
        [{"role": "user", "content": []}],
        [{"role": "user", "content": [{"text": "no type"}]}],
        [{"role": "user", "content": [{"type": "text", "text": 7}]}],
    ],
)
def test_malformed_messages(client: httpx.Client, messages: Any) -> None:
    assert_openai_error(chat(client, messages), 400)
    assert_bytez_error(client.post(BYTEZ_ROUTE, json={"messages": messages}), 400)


def test_missing_model_and_bad_max_tokens(client: httpx.Client) -> None:
    assert_openai_error(client.post("/v1/chat/completions", json={"messages": user("x")}), 400)
    assert_openai_error(chat(client, user("x"), max_tokens=0), 400)
    assert_openai_error(chat(client, user("x"), stream="yes"), 400)
    assert_bytez_error(
        client.post(BYTEZ_ROUTE, json={"messages": user("x"), "params": {"max_new_tokens": "5"}}),
        400,
    )


def test_unknown_part_types(client: httpx.Client) -> None:
    message = assert_openai_error(chat(client, user({"type": "image", "url": "https://a/b"})), 400)
    assert "messages[0].content[0]" in message and "'image'" in message
    response = client.post(
        BYTEZ_ROUTE,
        json={"messages": user({"type": "image_url", "image_url": {"url": "https://a/b"}})},
    )
    assert "image_url" in assert_bytez_error(response, 400)


def test_bad_base64_is_refused_strictly(client: httpx.Client) -> None:
    good = b64("photo.jpg")
    for payload in (good[:-2], good[:100] + "\n" + good[100:], good.replace("/", "_"), "!!!!"):
        url = "data:image/jpeg;base64," + payload
        response = chat(client, user({"type": "image_url", "image_url": {"url": url}}))
        assert "base64" in assert_openai_error(response, 400)
        response = client.post(
            BYTEZ_ROUTE, json={"messages": user({"type": "image", "base64": url})}
        )
        assert "base64" in assert_bytez_error(response, 400)


def test_lying_mime_type(client: httpx.Client) -> None:
    message = assert_openai_error(chat(client, user(image_part("photo.jpg", "image/png"))), 400)
    assert "image/png" in message and "image/jpeg" in message
    response = client.post(
        BYTEZ_ROUTE,
        json={"messages": user({"type": "video", "base64": data_uri("tone.wav", "video/mp4")})},
    )
    assert "audio/wav" in assert_bytez_error(response, 400)
    # An image part holding audio, declared honestly, is refused too.
    assert_openai_error(chat(client, user(image_part("tone.wav", "audio/wav"))), 400)


def test_input_audio_format(client: httpx.Client) -> None:
    def audio(fmt: str) -> dict[str, Any]:
        return {"type": "input_audio", "input_audio": {"data": b64("tone.wav"), "format": fmt}}

    assert "'wav' or 'mp3'" in assert_openai_error(chat(client, user(audio("audio/wav"))), 400)
    assert "mp3" in assert_openai_error(chat(client, user(audio("mp3"))), 400)
    assert content_of(chat(client, user(audio("wav")))) == "audio 1.0 s 16 kHz mono"
    data_prefixed = {
        "type": "input_audio",
        "input_audio": {"data": data_uri("tone.wav", "audio/wav"), "format": "wav"},
    }
    assert_openai_error(chat(client, user(data_prefixed)), 400)


def test_a_list_where_a_word_belongs_is_a_400_not_a_500(client: httpx.Client) -> None:
    # Found by Hypothesis: a list is unhashable, and the set lookup raised TypeError (a 500).
    audio = {"type": "input_audio", "input_audio": {"data": b64("tone.wav"), "format": ["wav"]}}
    assert "'wav' or 'mp3'" in assert_openai_error(chat(client, user(audio)), 400)
    image = {"type": "image_url", "image_url": {"url": data_uri("rgb.png", "image/png")}}
    image["image_url"]["detail"] = ["low"]  # type: ignore[index]
    assert "'auto', 'low' or 'high'" in assert_openai_error(chat(client, user(image)), 400)


def mp3_of_tone() -> bytes:
    import io

    import av
    import soundfile

    samples, rate = soundfile.read(FIXTURES / "tone.wav", dtype="int16")
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


def test_mp3_goes_through_pyav(client: httpx.Client) -> None:
    data = base64.b64encode(mp3_of_tone()).decode()
    part = {"type": "input_audio", "input_audio": {"data": data, "format": "mp3"}}
    description = content_of(chat(client, user(part)))
    assert description.startswith("audio 1.") and description.endswith(" s 16 kHz mono")
    bytez = {"type": "audio", "base64": "data:audio/mpeg;base64," + data}
    response = client.post(BYTEZ_ROUTE, json={"messages": user(bytez)})
    assert response.json()["output"]["content"] == description
    corrupt = base64.b64encode(b"RIFF\0\0\0\0WAVEjunkjunkjunk").decode()
    part = {"type": "input_audio", "input_audio": {"data": corrupt, "format": "wav"}}
    assert "cannot be decoded" in assert_openai_error(chat(client, user(part)), 400)


def test_truncated_and_fake_media_name_the_part(client: httpx.Client) -> None:
    messages = [
        {"role": "system", "content": "x"},
        *user("look", image_part("truncated.jpg", "image/jpeg")),
    ]
    message = assert_openai_error(chat(client, messages), 400)
    assert message.startswith("messages[1].content[1]: ") and "truncated" in message
    message = assert_openai_error(
        chat(client, user(image_part("not_an_image.png", "image/png"))), 400
    )
    assert "messages[0].content[0]" in message
    half_video = base64.b64encode((FIXTURES / "clip.mp4").read_bytes()[:600]).decode()
    response = chat(
        client,
        user({"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + half_video}}),
    )
    assert "video" in assert_openai_error(response, 400)


def test_urls_are_never_fetched_and_odd_schemes_refused(client: httpx.Client) -> None:
    part = {"type": "video_url", "video_url": {"url": "http://10.0.0.1:9/secret.mp4?x=1"}}
    assert content_of(chat(client, user(part))) == "video URL http://10.0.0.1:9/secret.mp4"
    part = {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}
    assert_openai_error(chat(client, user(part)), 400)


def test_oversize_bodies_get_413() -> None:
    with (
        serve(max_body_bytes=4096) as running,
        httpx.Client(base_url=running.base_url, timeout=60) as c,
    ):
        big = user("word " * 2000)
        assert_openai_error(chat(c, big), 413)
        assert_bytez_error(c.post(BYTEZ_ROUTE, json={"messages": big}), 413)

        # No Content-Length (chunked upload): counted while reading.
        def chunks() -> Iterator[bytes]:
            raw = json.dumps({"model": "echo", "messages": big}).encode()
            for start in range(0, len(raw), 1000):
                yield raw[start : start + 1000]

        response = c.post("/v1/chat/completions", content=chunks())
        assert "content-length" not in response.request.headers
        assert_openai_error(response, 413)
        assert content_of(chat(c, user("small"))) == 'text "small"'


def test_unknown_routes_in_each_shape(client: httpx.Client) -> None:
    assert_openai_error(client.post("/v1/nothing", json={}), 404)
    assert_openai_error(client.get("/v1/chat/completions"), 405)
    assert_bytez_error(client.post("/models/v2/only-org", json={}), 404)


# --- faults ------------------------------------------------------------------------------------


def test_rate_429_with_retry_after() -> None:
    with (
        serve(rate_429=1.0, retry_after=0.5) as running,
        httpx.Client(base_url=running.base_url, timeout=60) as c,
    ):
        response = chat(c, user("x"))
        assert_openai_error(response, 429)
        assert response.headers["retry-after"] == "0.5"
        response = c.post(BYTEZ_ROUTE, json={"messages": user("x")})
        assert assert_bytez_error(response, 429) == "Rate limit exceeded"
        assert c.get("/v1/models").status_code == 200  # faults hit chat requests only
        stats = running.stats
    assert stats.total == 3 and stats.by_status == {429: 2, 200: 1} and stats.faults == 2


def test_fail_first_then_answers() -> None:
    with serve(fail_first=2) as running, httpx.Client(base_url=running.base_url, timeout=60) as c:
        statuses = [chat(c, user("x")).status_code for _ in range(4)]
        stats = running.stats
    assert statuses == [503, 503, 200, 200]
    assert stats.answered == 2 and stats.by_status == {503: 2, 200: 2}


def test_script_then_service_and_5xx_has_no_retry_after() -> None:
    with (
        serve(script=(429, 500, 200), rate_5xx=1.0) as running,
        httpx.Client(base_url=running.base_url, timeout=60) as c,
    ):
        responses = [chat(c, user("x")) for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 500, 200, 503]
    assert "retry-after" in responses[0].headers
    assert "retry-after" not in responses[3].headers


def test_rate_drop_closes_the_connection_without_a_response() -> None:
    with serve(rate_drop=1.0) as running, httpx.Client(base_url=running.base_url, timeout=60) as c:
        for route in (OPENAI_ROUTES[0], BYTEZ_ROUTE):
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                c.post(route, json={"model": "echo", "messages": user("x")})
        assert c.get("/v1/models").status_code == 200  # the server itself is fine
        stats = running.stats
    assert stats.dropped == 2 and 500 not in stats.by_status


def test_seeded_faults_repeat() -> None:
    def run() -> list[int]:
        with (
            serve(rate_429=0.5, seed=7) as running,
            httpx.Client(base_url=running.base_url, timeout=60) as c,
        ):
            return [chat(c, user("x")).status_code for _ in range(12)]

    first = run()
    assert first == run() and {429, 200} == set(first)


def test_latency_adds_time() -> None:
    with serve(latency=0.3) as running, httpx.Client(base_url=running.base_url, timeout=60) as c:
        started = time.perf_counter()
        assert chat(c, user("x")).status_code == 200
        assert time.perf_counter() - started >= 0.3


def test_invalid_options_are_refused() -> None:
    for bad in (
        {"rate_429": 1.5},
        {"rate_429": 0.6, "rate_drop": 0.6},
        {"latency": -1},
        {"fail_status": 200},
        {"script": (99,)},
        {"api_key": ""},
    ):
        with pytest.raises(InvalidOptionError):
            ServerOptions(**bad)


# --- running -----------------------------------------------------------------------------------


def test_shared_server_is_one_per_process() -> None:
    first = shared_echo_server()
    assert shared_echo_server() is first
    assert (
        content_of(
            httpx.post(
                first.base_url + "/v1/chat/completions",
                json={"model": "echo", "messages": user("ok")},
                timeout=60,
            )
        )
        == 'text "ok"'
    )


def test_busy_port_is_a_config_error(server: RunningServer) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    with pytest.raises(ConfigError):
        serve_in_thread(port=port)


def test_concurrent_requests(server: RunningServer) -> None:
    import asyncio

    async def many() -> list[int]:
        async with httpx.AsyncClient(base_url=server.base_url) as c:
            responses = await asyncio.gather(
                *[
                    c.post(
                        "/v1/chat/completions",
                        json={
                            "model": "echo",
                            "messages": user(f"n{i}", image_part("rgb.png", "image/png")),
                        },
                    )
                    for i in range(40)
                ]
            )
        return [r.status_code for r in responses]

    assert asyncio.run(many()) == [200] * 40


def test_cli_serve_help_and_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    from mmkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    assert "--api-key-env" in capsys.readouterr().out
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert main(["serve", "--api-key-env", "MMKIT_TEST_SURELY_UNSET_VARIABLE"]) == 2


def test_missing_extra_is_a_config_error() -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "try:\n    import mmkit.server\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    ).stdout
    assert out.startswith("ConfigError") and "pip install 'mmkit-chat[server]'" in out


# --- the event loop and connection limits ------------------------------------------------------


def test_a_huge_body_is_parsed_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import mmkit.server.app as app_module
    from mmkit.server.parse import plan_openai

    parsing, release = threading.Event(), threading.Event()

    def held_while_parsing(body: Any) -> Any:
        if len(body["messages"][0]["content"]) > 1000:  # the huge request only
            parsing.set()
            release.wait(30)
        return plan_openai(body)

    monkeypatch.setattr(app_module, "plan_openai", held_while_parsing)
    huge = {"model": "echo", "messages": user(*["word"] * 20_000)}
    with serve() as running, ThreadPoolExecutor(1) as pool:
        url = f"{running.base_url}/v1/chat/completions"
        big = pool.submit(httpx.post, url, json=huge, timeout=60)
        try:
            assert parsing.wait(30)  # the huge body is being parsed, and held there
            # Parsed on the event loop, the held parse would block this answer (a timeout here).
            small = httpx.post(url, json={"model": "echo", "messages": user("hi")}, timeout=10)
            assert content_of(small) == 'text "hi"'
            assert not big.done()
        finally:
            release.set()
        assert big.result().status_code == 200


def _connect(running: RunningServer) -> Any:
    import socket

    host, port = running.base_url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_by_server(sock: Any, within: float = 10.0) -> bool:
    """Whether the server closes `sock` within `within` seconds (a correctness bound)."""
    sock.settimeout(within)
    try:
        while chunk := sock.recv(65536):
            del chunk  # a response (408/431) may come first; the close is what counts
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_idle_and_slow_connections_do_not_lock_out_a_client() -> None:
    # Headers may take 60 s here: only closing the longest-idle connections can make room.
    with serve(max_connections=8, header_timeout=60) as running:
        crowd = [_connect(running) for _ in range(8)]  # connected, silent
        for _ in range(8):  # trickling a request whose headers never end
            slow = _connect(running)
            slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            crowd.append(slow)
        time.sleep(0.6)  # idle past the server's 0.5 s grace: young connections are never closed
        try:
            with httpx.Client(base_url=running.base_url, timeout=60) as c:
                assert [c.get("/v1/models").status_code for _ in range(3)] == [200] * 3
            # 17 connections came for 8 places: the 9 longest idle of the crowd were closed.
            import select

            readable, _, _ = select.select(crowd, [], [], 10)
            assert len(readable) >= 9
            assert all(sock.recv(1) == b"" for sock in readable)
        finally:
            for sock in crowd:
                sock.close()


def test_a_flood_of_new_connections_is_refused_past_twice_the_limit() -> None:
    import select

    with serve(max_connections=2, header_timeout=60) as running:
        young = [_connect(running) for _ in range(4)]  # none idle long enough to be closed
        flood = _connect(running)
        try:
            assert _closed_by_server(flood)  # the fifth, past 2 × 2, is closed at once
            readable, _, _ = select.select(young, [], [], 0.2)
            assert readable == []  # the first four are still open
            with httpx.Client(base_url=running.base_url, timeout=60) as c:
                for sock in young:  # room again once they leave
                    sock.close()
                assert c.get("/v1/models").status_code == 200
        finally:
            flood.close()
            for sock in young:
                sock.close()


def test_busy_connections_past_the_limit_get_503() -> None:
    with serve(max_connections=2) as running:
        busy = [_connect(running) for _ in range(2)]
        for sock in busy:  # headers in, body still coming: a request in progress
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n{"
            )
        deadline = time.monotonic() + 10
        while running.stats.total < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert running.stats.total == 2  # both requests reached the app
        try:
            with httpx.Client(base_url=running.base_url, timeout=60) as c:
                assert chat(c, user("x")).status_code == 503
        finally:
            for sock in busy:
                sock.close()
        with httpx.Client(base_url=running.base_url, timeout=60) as c:
            assert chat(c, user("x")).status_code == 200  # room again


def test_headers_must_arrive_within_the_header_timeout() -> None:
    with serve(header_timeout=0.5) as running:
        silent = _connect(running)
        assert _closed_by_server(silent)
        slow = _connect(running)
        slow.sendall(b"GET /v1/models HTTP/1.1\r\n")
        closed = False
        for _ in range(100):  # one header line every 0.1 s, for 10 s unless the server cuts it
            try:
                slow.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed = True
                break
            slow.settimeout(0.1)
            try:
                if slow.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
        assert closed
        silent.close()
        slow.close()


def test_a_kept_alive_connection_may_idle_longer_than_the_header_timeout() -> None:
    import http.client

    with serve(header_timeout=0.3, keep_alive_timeout=5) as running:
        host, port = running.base_url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/v1/models")
        assert conn.getresponse().read() and conn.sock is not None
        first = conn.sock
        time.sleep(0.8)  # idle past the header timeout, within the keep-alive
        conn.request("GET", "/v1/models")
        response = conn.getresponse()
        assert response.status == 200 and response.read()
        assert conn.sock is first  # the same connection served both
        conn.close()


def test_oversized_headers_get_431() -> None:
    with serve(max_header_bytes=8192) as running:
        sock = _connect(running)
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)
        reply = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                reply += chunk
        sock.close()
    assert reply.startswith(b"HTTP/1.1 431 ")
    assert b"over the server's 8,192-byte limit" in reply


def test_a_trickling_body_gets_408() -> None:
    with serve(body_timeout=0.5) as running:
        sock = _connect(running)
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 1000\r\n\r\n" + b'{"model": "echo", '
        )
        reply = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                reply += chunk
        sock.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["error"]["message"] == (
        "The request body did not arrive within 0.5 s; send it at once"
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"max_connections": 0},
        {"header_timeout": 0},
        {"body_timeout": float("inf")},
        {"keep_alive_timeout": 0.5},
        {"max_header_bytes": True},
        {"backlog": -1},
        {"max_json_values": 0},
        {"max_json_depth": True},
        {"max_media_parts": -1},
    ],
)
def test_invalid_limits_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionError, match=next(iter(bad))):
        ServerOptions(**bad)


def test_image_detail_of_the_wrong_type_is_a_400_not_a_crash(client: httpx.Client) -> None:
    part = {"type": "image_url", "image_url": {"url": data_uri("rgb.png", "image/png")}}
    part["image_url"]["detail"] = []  # type: ignore[index]  # unhashable: once a 500
    assert "detail" in assert_openai_error(chat(client, user(part)), 400)
