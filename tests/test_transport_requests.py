"""What the transport sends and how it reads answers, without sockets (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import pickle
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmkit.errors import (
    AuthError,
    BadRequestError,
    ConfigError,
    ConnectionError,
    InvalidOptionError,
    MmkitError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
)
from mmkit.message import Message
from mmkit.parts import Image
from mmkit.transport import AsyncClient, Client, OpenAICompatible, Secret, Timeout, providers
from mmkit.transport.retry import parse_retry_after
from mmkit.transport.sse import SSEDecoder

BYTEZ_MODEL = "bytez/google/gemma-3-4b-it"
KEY = "bz-secret-key-0123456789"
BYTEZ_OK = {"error": None, "output": {"role": "assistant", "content": "A cat."}}
OPENAI_OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gemma-3",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Earth is round."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11},
}

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that keeps every request and answers from a list (or one body)."""

    def __init__(self, *answers: httpx.Response | dict[str, Any]) -> None:
        self.answers = list(answers) or [BYTEZ_OK]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    @property
    def body(self) -> Any:
        return json.loads(self.requests[-1].content)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def bytez_client(recorder: Recorder, **options: Any) -> Client:
    return Client(BYTEZ_MODEL, api_key=KEY, transport=recorder.transport(), **options)


# --- the Bytez native request -----------------------------------------------------------------


def test_bytez_request_matches_the_documented_format(fixtures_dir: Path) -> None:
    photo = fixtures_dir / "photo.jpg"
    message = Message.user(
        ["What is in these pictures?", Image("https://example.com/cat.jpg"), Image(photo)]
    )
    recorder = Recorder()
    with bytez_client(recorder) as client:
        reply = client.chat([message], max_tokens=20, temperature=0.5, repetition_penalty=1.2)

    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.bytez.com/models/v2/google/gemma-3-4b-it"
    assert request.headers["authorization"] == f"Key {KEY}"
    assert request.headers["content-type"] == "application/json"
    inline = "data:image/jpeg;base64," + base64.b64encode(photo.read_bytes()).decode()
    assert json.loads(request.content) == {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these pictures?"},
                    {"type": "image", "url": "https://example.com/cat.jpg"},
                    {"type": "image", "base64": inline},
                ],
            }
        ],
        "stream": False,
        "params": {"max_new_tokens": 20, "temperature": 0.5, "repetition_penalty": 1.2},
    }
    assert reply.text == "A cat."


def test_openai_style_dicts_are_sent_in_bytez_parts(fixtures_dir: Path) -> None:
    data_uri = (
        "data:image/jpeg;base64,"
        + base64.b64encode((fixtures_dir / "photo.jpg").read_bytes()).decode()
    )
    recorder = Recorder()
    with bytez_client(recorder) as client:
        client.chat(
            [
                {"role": "system", "content": "Be a good human!"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Describe"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                        {"type": "image_url", "image_url": {"url": data_uri}},
                    ],
                },
            ]
        )
    assert recorder.body["messages"] == [
        {"role": "system", "content": "Be a good human!"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image", "url": "https://example.com/a.png"},
                {"type": "image", "base64": data_uri},
            ],
        },
    ]
    assert recorder.body["params"] == {}


def test_a_bare_prompt_is_one_user_turn() -> None:
    recorder = Recorder()
    with bytez_client(recorder) as client:
        client.chat("Hello, how are you?")
    assert recorder.body["messages"] == [{"role": "user", "content": "Hello, how are you?"}]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ({"max_tokens": 20}, {"max_new_tokens": 20}),
        ({"max_completion_tokens": 30}, {"max_new_tokens": 30}),
        ({"n": 2}, {"num_return_sequences": 2}),
        ({"stop": ["\n\n", "END"]}, {"stop_strings": ["\n\n", "END"]}),
        ({"stop": "END"}, {"stop_strings": "END"}),
        ({"temperature": 0.5, "top_p": 0.9}, {"temperature": 0.5, "top_p": 0.9}),
        ({"seed": 7}, {"seed": 7}),
        (
            {"repetition_penalty": 1.2, "top_k": 40, "do_sample": True},
            {"repetition_penalty": 1.2, "top_k": 40, "do_sample": True},
        ),
        ({"temperature": None, "max_tokens": 5}, {"max_new_tokens": 5}),  # None means unset
    ],
)
def test_bytez_params_use_hugging_face_names(given: dict[str, Any], sent: dict[str, Any]) -> None:
    recorder = Recorder()
    with bytez_client(recorder) as client:
        client.chat("hi", **given)
    assert recorder.body["params"] == sent


def test_bytez_refuses_openai_only_params_by_name_before_sending() -> None:
    recorder = Recorder()
    with bytez_client(recorder) as client, pytest.raises(InvalidOptionError) as caught:
        client.chat("hi", tools=[{"type": "function"}])
    assert "'tools'" in str(caught.value) and "bytez" in str(caught.value)
    assert "drop_params=True" in str(caught.value)
    assert recorder.requests == []


def test_refused_param_says_what_to_use_instead() -> None:
    with bytez_client(Recorder()) as client, pytest.raises(InvalidOptionError) as caught:
        client.chat("hi", presence_penalty=0.5)
    assert "repetition_penalty" in str(caught.value)


def test_two_names_for_one_wire_param_are_refused() -> None:
    with bytez_client(Recorder()) as client, pytest.raises(InvalidOptionError) as caught:
        client.chat("hi", max_tokens=5, max_completion_tokens=6)
    assert "max_new_tokens" in str(caught.value)


def test_drop_params_drops_and_logs_only_the_name(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    with (
        caplog.at_level(logging.DEBUG, logger="mmkit"),
        bytez_client(recorder, drop_params=True) as client,
    ):
        client.chat("hi", max_tokens=5, logit_bias={"50256": -100})
    assert recorder.body["params"] == {"max_new_tokens": 5}
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1 and "logit_bias" in dropped[0] and "50256" not in dropped[0]


def test_drop_params_per_call() -> None:
    recorder = Recorder()
    with bytez_client(recorder) as client:
        client.chat("hi", drop_params=True, user="someone")
    assert recorder.body["params"] == {}


def test_extra_body_is_merged_into_the_body_as_is() -> None:
    recorder = Recorder(OPENAI_OK)
    with Client("m", base_url="http://h", transport=recorder.transport()) as client:
        client.chat("hi", max_tokens=2, extra_body={"guided_choice": ["yes", "no"]})
    assert recorder.body["guided_choice"] == ["yes", "no"] and recorder.body["max_tokens"] == 2


def test_redirects_are_not_followed() -> None:
    recorder = Recorder(httpx.Response(307, headers={"location": "https://elsewhere.example/"}))
    with bytez_client(recorder) as client, pytest.raises(TransportError) as caught:
        client.chat("hi")
    assert caught.value.status == 307 and "https://elsewhere.example/" in str(caught.value)
    assert len(recorder.requests) == 1


def test_stream_is_not_a_chat_parameter() -> None:
    with bytez_client(Recorder()) as client, pytest.raises(InvalidOptionError, match="stream"):
        client.chat("hi", stream=True)


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("bytez/google/gemma-3-4b-it", "/models/v2/google/gemma-3-4b-it"),
        ("bytez/my org/model:v1?x#y", "/models/v2/my%20org/model%3Av1%3Fx%23y"),
        ("bytez/openai-community/gpt2", "/models/v2/openai-community/gpt2"),
    ],
)
def test_model_path_segments_are_percent_encoded(model: str, path: str) -> None:
    recorder = Recorder()
    with Client(model, api_key=KEY, transport=recorder.transport()) as client:
        client.chat("hi")
    assert recorder.requests[0].url.raw_path.decode() == path


@pytest.mark.parametrize(
    "model",
    [
        "bytez/google/../admin",
        "bytez/../x",
        "bytez/./x",
        "bytez/google//x",
        "bytez/google/",
    ],
)
def test_dot_and_empty_segments_are_refused(model: str) -> None:
    with pytest.raises(ConfigError, match="segment"):
        Client(model, api_key=KEY)


# --- OpenAI and OpenAI-compatible requests ----------------------------------------------------


def test_openai_compatible_server_gets_standard_and_extra_params() -> None:
    recorder = Recorder(OPENAI_OK)
    with Client(
        "gemma-3",
        base_url="http://127.0.0.1:4000",
        api_key="sk-1234",
        transport=recorder.transport(),
    ) as client:
        reply = client.chat(
            [Message.system("Be a good human!"), Message.user("What do you know about earth?")],
            max_tokens=20,
            temperature=0.5,
            repetition_penalty=1.2,
            top_k=5,
        )
    request = recorder.requests[0]
    assert str(request.url) == "http://127.0.0.1:4000/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-1234"
    assert json.loads(request.content) == {
        "model": "gemma-3",
        "messages": [
            {"role": "system", "content": "Be a good human!"},
            {"role": "user", "content": "What do you know about earth?"},
        ],
        "max_tokens": 20,
        "temperature": 0.5,
        "repetition_penalty": 1.2,
        "top_k": 5,
    }
    assert (reply.text, reply.finish_reason, reply.model, reply.id) == (
        "Earth is round.",
        "stop",
        "gemma-3",
        "chatcmpl-1",
    )
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (
        7,
        4,
        11,
    )


def test_openai_compatible_server_without_a_key_gets_no_auth_header() -> None:
    recorder = Recorder(OPENAI_OK)
    with Client(
        "llava", base_url="http://localhost:8000/v1", transport=recorder.transport()
    ) as client:
        client.chat("hi")
    assert "authorization" not in recorder.requests[0].headers
    assert str(recorder.requests[0].url) == "http://localhost:8000/v1/chat/completions"


def test_openai_images_are_image_url_parts(fixtures_dir: Path) -> None:
    recorder = Recorder(OPENAI_OK)
    with Client(
        "gemma-3", base_url="http://127.0.0.1:4000", transport=recorder.transport()
    ) as client:
        client.chat([Message.user("Describe", image=fixtures_dir / "photo.jpg")])
    part = recorder.body["messages"][0]["content"][1]
    assert part["type"] == "image_url"
    assert part["image_url"]["url"].startswith("data:image/jpeg;base64,/9j/")


def test_openai_provider_uses_its_env_key_and_refuses_unknown_params(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    recorder = Recorder(OPENAI_OK)
    with Client("openai/gpt-4o-mini", transport=recorder.transport()) as client:
        with pytest.raises(InvalidOptionError) as caught:
            client.chat("hi", repetition_penalty=1.2)
        assert "'repetition_penalty'" in str(caught.value) and "openai" in str(caught.value)
        client.chat("hi", max_tokens=3, seed=1)
    request = recorder.requests[0]
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-from-env"
    assert json.loads(request.content)["model"] == "gpt-4o-mini"


def test_base_url_overrides_every_provider() -> None:
    recorder = Recorder()
    with Client(
        BYTEZ_MODEL, base_url="http://10.0.0.5:9000/", api_key=KEY, transport=recorder.transport()
    ) as client:
        client.chat("hi")
    assert str(recorder.requests[0].url) == "http://10.0.0.5:9000/models/v2/google/gemma-3-4b-it"


def test_a_new_provider_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    local = OpenAICompatible(
        name="local",
        prefix="local",
        wire_format="openai",
        base_url="http://127.0.0.1:8000/v1",
        key_env="LOCAL_KEY",
        refused={"tools": "this server has no tool calling"},
    )
    monkeypatch.setitem(providers._REGISTRY, "local", local)
    monkeypatch.setenv("LOCAL_KEY", "lk-1")
    recorder = Recorder(OPENAI_OK)
    with Client("local/llava-1.6", transport=recorder.transport()) as client:
        client.chat("hi")
        with pytest.raises(InvalidOptionError, match="no tool calling"):
            client.chat("hi", tools=[])
    request = recorder.requests[0]
    assert str(request.url) == "http://127.0.0.1:8000/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer lk-1"
    assert recorder.body["model"] == "llava-1.6"


def test_unknown_prefix_without_base_url_names_the_known_prefixes() -> None:
    with pytest.raises(ConfigError) as caught:
        Client("mistral/large")  # anthropic/ and gemini/ are known since issue 16
    assert "bytez/" in str(caught.value) and "openai/" in str(caught.value)
    assert "base_url" in str(caught.value)


@pytest.mark.parametrize("base_url", ["ftp://host", "localhost:4000", "http://user:pw@host"])
def test_bad_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ConfigError):
        Client("gemma-3", base_url=base_url)


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        (BYTEZ_MODEL, "BYTEZ_API_KEY"),
        ("openai/gpt-4o-mini", "OPENAI_API_KEY"),
    ],
)
def test_a_missing_key_is_an_auth_error_at_creation(model: str, variable: str) -> None:
    with pytest.raises(AuthError) as caught:
        Client(model)
    assert variable in str(caught.value)
    assert caught.value.status is None and caught.value.model == model.partition("/")[2]


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYTEZ_API_KEY", "bz-env")
    recorder = Recorder()
    with Client(BYTEZ_MODEL, transport=recorder.transport()) as client:
        client.chat("hi")
    assert recorder.requests[0].headers["authorization"] == "Key bz-env"


# --- reading replies --------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["A cat.", [{"type": "text", "text": "A cat."}]])
def test_bytez_reply_content_as_string_or_parts(content: Any) -> None:
    answer = httpx.Response(
        200,
        json={"error": None, "output": {"role": "assistant", "content": content}},
        headers={"ratelimit-remaining": "99", "inference-time": "0.5", "server": "x"},
    )
    with bytez_client(Recorder(answer)) as client:
        reply = client.chat("hi")
    assert reply.text == "A cat." and str(reply) == "A cat."
    assert reply.model == "google/gemma-3-4b-it"
    assert reply.headers == {"ratelimit-remaining": "99", "inference-time": "0.5"}
    assert reply.raw["output"]["content"] == content


def test_several_choices_are_all_kept() -> None:
    body = {
        **OPENAI_OK,
        "choices": [
            {"index": 0, "message": {"content": "one"}, "finish_reason": "stop"},
            {"index": 1, "message": {"content": "two"}, "finish_reason": "stop"},
        ],
    }
    with Client("m", base_url="http://h", transport=Recorder(body).transport()) as client:
        reply = client.chat("hi", n=2)
    assert reply.texts == ["one", "two"] and reply.text == "one"


def test_bytez_error_body_with_200_is_raised() -> None:
    recorder = Recorder({"error": "Model is loading", "output": None})
    with bytez_client(recorder) as client, pytest.raises(ServerError, match="Model is loading"):
        client.chat("hi")


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            400,
            {"error": {"message": "bad image", "type": "invalid_request_error"}},
            BadRequestError,
            "bad image",
        ),
        (413, {"error": "Payload too large", "output": None}, BadRequestError, "Payload too large"),
        (415, {"detail": "unsupported media"}, BadRequestError, "unsupported media"),
        (
            422,
            {"error": {"message": "messages: field required"}},
            BadRequestError,
            "field required",
        ),
        (401, {"error": "Unauthorized", "output": None}, AuthError, "Unauthorized"),
        (403, {"error": "Forbidden", "output": None}, AuthError, "Forbidden"),
        (404, {"error": "Model not found", "output": None}, NotFoundError, "Model not found"),
        (429, {"error": "Rate limit exceeded", "output": None}, RateLimitError, "Rate limit"),
        (500, {"error": "boom"}, ServerError, "boom"),
        (502, b"<html>Bad gateway</html>", ServerError, "Bad gateway"),
        (503, {"error": {"message": "overloaded"}}, ServerError, "overloaded"),
        (504, b"", ServerError, "empty body"),
    ],
)
def test_statuses_map_to_the_error_tree(
    status: int, body: Any, error: type[TransportError], message: str
) -> None:
    answer = httpx.Response(
        status, content=body if isinstance(body, bytes) else json.dumps(body).encode()
    )
    with bytez_client(Recorder(answer), max_retries=0) as client, pytest.raises(error) as caught:
        client.chat("hi")
    assert type(caught.value) is error
    assert message in str(caught.value)
    assert (caught.value.status, caught.value.provider, caught.value.model) == (
        status,
        "bytez",
        "google/gemma-3-4b-it",
    )


def test_rate_limit_carries_retry_after() -> None:
    answer = httpx.Response(
        429, json={"error": "Rate limit exceeded"}, headers={"retry-after": "7"}
    )
    with (
        bytez_client(Recorder(answer), max_retries=0) as client,
        pytest.raises(RateLimitError) as caught,
    ):
        client.chat("hi")
    assert caught.value.retry_after == 7.0


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(soon) or 0) <= 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --- retries (the timing against a real server is in test_transport_live.py) -------------------


def test_retries_503_then_answers() -> None:
    recorder = Recorder(httpx.Response(503), httpx.Response(503), BYTEZ_OK)
    with bytez_client(recorder, backoff=0.001) as client:
        reply = client.chat("hi")
    assert reply.text == "A cat." and reply.attempts == 3 and len(recorder.requests) == 3


def test_gives_up_after_max_retries() -> None:
    recorder = Recorder(httpx.Response(502))
    with bytez_client(recorder, max_retries=4, backoff=0.001) as client:
        with pytest.raises(ServerError):
            client.chat("hi")
        assert len(recorder.requests) == 5
        with pytest.raises(ServerError):
            client.chat("hi", max_retries=0)
        assert len(recorder.requests) == 6


@pytest.mark.parametrize("status", [400, 401, 404, 413, 422, 501])
def test_other_statuses_are_never_retried(status: int) -> None:
    recorder = Recorder(httpx.Response(status, json={"error": "no"}))
    with (
        bytez_client(recorder, max_retries=5, backoff=0.001) as client,
        pytest.raises(TransportError),
    ):
        client.chat("hi")
    assert len(recorder.requests) == 1


def test_a_503_with_retry_after_waits_that_long(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("mmkit.transport.retry.time.sleep", waits.append)
    recorder = Recorder(httpx.Response(503, headers={"retry-after": "1.5"}), BYTEZ_OK)
    with bytez_client(recorder) as client:
        assert client.chat("hi").attempts == 2
    assert waits == [1.5]


def test_without_retry_after_the_wait_is_jittered_exponential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr("mmkit.transport.retry.time.sleep", waits.append)
    recorder = Recorder(*[httpx.Response(500)] * 5, BYTEZ_OK)
    with bytez_client(recorder, max_retries=5, backoff=0.1, max_backoff=0.5) as client:
        client.chat("hi")
    caps = [0.1, 0.2, 0.4, 0.5, 0.5]  # backoff doubling from 0.1, cut at max_backoff
    assert all(0 <= wait <= cap for wait, cap in zip(waits, caps, strict=True))


def test_the_jitter_really_varies_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("mmkit.transport.retry.time.sleep", waits.append)
    for _ in range(4):
        recorder = Recorder(*[httpx.Response(500)] * 5, BYTEZ_OK)
        with bytez_client(recorder, max_retries=5, backoff=0.1, max_backoff=0.5) as client:
            client.chat("hi")
    # full jitter: uniform in [0, cap]; 20 draws that were all 0, all the cap or all alike
    # would mean no jitter at all
    assert len(waits) == 20 and len(set(waits)) == 20
    assert sum(w > 0 for w in waits) >= 19
    assert any(w < cap * 0.9 for w, cap in zip(waits, [0.1, 0.2, 0.4, 0.5, 0.5] * 4, strict=True))


def test_each_retry_is_logged_at_info_with_its_reason_and_wait(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("mmkit.transport.retry.time.sleep", lambda s: None)
    recorder = Recorder(
        httpx.Response(503, headers={"retry-after": "1.5"}), httpx.Response(502), BYTEZ_OK
    )
    with caplog.at_level(logging.INFO, "mmkit.transport"), bytez_client(recorder) as client:
        client.chat("hi")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines[0] == "try 1 failed: HTTP 503 (ServerError); retrying in 1.5 s"
    assert lines[1].startswith("try 2 failed: HTTP 502 (ServerError); retrying in ")


def test_a_retry_after_beyond_the_total_budget_gives_up_at_once() -> None:
    recorder = Recorder(httpx.Response(429, headers={"retry-after": "30"}), BYTEZ_OK)
    with (
        bytez_client(recorder, timeout=Timeout(total=5.0)) as client,
        pytest.raises(RateLimitError) as caught,
    ):
        client.chat("hi")
    assert caught.value.retry_after == 30.0 and len(recorder.requests) == 1


def test_retry_after_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("mmkit.transport.retry.time.sleep", waits.append)
    recorder = Recorder(
        httpx.Response(429, headers={"retry-after": "3600"}), httpx.Response(200, json=BYTEZ_OK)
    )
    with bytez_client(recorder, max_retry_after=2.5) as client:
        client.chat("hi")
    assert waits == [2.5]


def test_connection_errors_are_retried_then_raised_as_connection_errors() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    client = Client(
        BYTEZ_MODEL,
        api_key=KEY,
        transport=httpx.MockTransport(refuse),
        max_retries=2,
        backoff=0.001,
    )
    with client, pytest.raises(ConnectionError) as caught:
        client.chat("hi")
    assert caught.value.status is None and "could not connect to" in str(caught.value)
    assert len(calls) == 3


def test_read_timeouts_become_timeout_errors() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = Client(BYTEZ_MODEL, api_key=KEY, transport=httpx.MockTransport(slow), max_retries=0)
    with client, pytest.raises(TimeoutError, match="waiting for the reply"):
        client.chat("hi")


def test_timeouts_have_sane_defaults_and_accept_several_forms() -> None:
    with bytez_client(Recorder()) as client:
        assert (client.timeout.connect, client.timeout.read) == (10.0, 120.0)
    with bytez_client(Recorder(), timeout=5) as client:
        assert client.timeout == Timeout(5.0, 5.0, 5.0, 5.0, total=5.0)  # the whole call
    with bytez_client(Recorder(), timeout=httpx.Timeout(3.0, connect=1.0)) as client:
        assert (client.timeout.connect, client.timeout.read) == (1.0, 3.0)
    with pytest.raises(InvalidOptionError):
        bytez_client(Recorder(), timeout=-1)


def test_per_call_timeout_reaches_httpx() -> None:
    recorder = Recorder()
    with bytez_client(recorder) as client:
        client.chat("hi", timeout=Timeout(connect=1.0, read=2.0))
        client.chat("hi")
    first, second = (r.extensions["timeout"] for r in recorder.requests)
    assert (first["connect"], first["read"]) == (1.0, 2.0)
    assert (second["connect"], second["read"]) == (10.0, 120.0)


# --- streams ----------------------------------------------------------------------------------


def _sse(*events: str) -> bytes:
    return "".join(f"data: {e}\n\n" for e in events).encode()


def test_openai_stream_yields_pieces_then_the_reply() -> None:
    chunks = [
        json.dumps(
            {
                "id": "c1",
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
        )
        for piece in ["Earth", " is", " round."]
    ]
    final = json.dumps(
        {
            "id": "c1",
            "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        }
    )
    body = _sse(*chunks, final, "[DONE]")
    recorder = Recorder(
        httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    with Client("m", base_url="http://h/v1", transport=recorder.transport()) as client:
        stream = client.stream("hi", max_tokens=3)
        assert stream.reply is None
        pieces = list(stream)
    assert pieces == ["Earth", " is", " round."]
    assert stream.reply is not None and stream.reply.text == "Earth is round."
    assert stream.reply.finish_reason == "stop" and stream.reply.usage.total_tokens == 6
    assert recorder.body["stream"] is True


def test_bytez_stream_is_plain_text() -> None:
    recorder = Recorder(
        httpx.Response(200, content=b"A cat sits.", headers={"inference-meter": "12"})
    )
    with bytez_client(recorder) as client:
        stream = client.stream("hi")
        text = "".join(stream)
    assert text == "A cat sits." and stream.reply is not None
    assert stream.reply.text == text and stream.reply.headers == {"inference-meter": "12"}
    assert recorder.body["stream"] is True


class _BreaksAfterOnePiece(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b"A cat"
        raise httpx.RemoteProtocolError("peer closed connection")


def test_a_stream_broken_after_its_first_byte_is_not_retried() -> None:
    recorder = Recorder(httpx.Response(200, stream=_BreaksAfterOnePiece()))
    with bytez_client(recorder, max_retries=3, backoff=0.001) as client:
        stream = client.stream("hi")
        assert next(stream) == "A cat"
        with pytest.raises(ServerError, match="dropped"):
            next(stream)
    assert len(recorder.requests) == 1


def test_stream_errors_are_raised_before_any_piece() -> None:
    recorder = Recorder(httpx.Response(401, json={"error": "Unauthorized"}))
    with bytez_client(recorder) as client, pytest.raises(AuthError):
        list(client.stream("hi"))


def test_async_client_builds_the_same_request() -> None:
    recorder = Recorder()

    async def main() -> tuple[str, str]:
        async with AsyncClient(
            BYTEZ_MODEL, api_key=KEY, transport=httpx.MockTransport(recorder)
        ) as client:
            reply = await client.chat("hi", max_tokens=4)
            pieces = [piece async for piece in client.stream("hi")]
            return reply.text, "".join(pieces)

    text, streamed = asyncio.run(main())
    assert text == "A cat." and json.loads(streamed) == BYTEZ_OK  # a text stream is the body
    assert [json.loads(r.content)["params"] for r in recorder.requests] == [
        {"max_new_tokens": 4},
        {},
    ]
    assert recorder.requests[0].headers["authorization"] == f"Key {KEY}"


# --- SSE parsing ------------------------------------------------------------------------------


def test_sse_events_may_be_split_anywhere() -> None:
    body = (
        'data: {"a": 1}\r\n\r\n: keep-alive\n\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n'
    )
    for size in (1, 2, 3, 7, len(body)):
        decoder = SSEDecoder()
        events: list[str] = []
        for start in range(0, len(body), size):
            events += decoder.feed(body[start : start + size])
        events += decoder.end()
        assert events == ['{"a": 1}', "line one\nline two", "[DONE]"], size


def test_sse_last_event_without_blank_line_is_kept() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("event: x\nid: 3\ndata: tail") == []
    assert decoder.end() == ["tail"]


def test_sse_does_not_split_on_unicode_line_separators() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("data: a\u2028b\x85c\n\n") == ["a\u2028b\x85c"]


# --- aliases ----------------------------------------------------------------------------------

CONFIG = """\
model_list:
  - model_name: gemma-3
    litellm_params:
      model: bytez/google/gemma-3-4b-it
      api_key: os.environ/BYTEZ_KEY_FOR_TESTS
      max_tokens: 20
      temperature: 0.5
      repetition_penalty: 1.2
  - model_name: local
    litellm_params:
      model: llava
      api_base: http://127.0.0.1:4000
      timeout: 3
      max_retries: 0
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


def test_alias_reads_the_key_from_the_environment_and_sends_its_defaults(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BYTEZ_KEY_FOR_TESTS", "bz-from-alias")
    recorder = Recorder()
    with Client.from_config(config_file, "gemma-3", transport=recorder.transport()) as client:
        client.chat("hi", temperature=0.1)  # a per-call param overrides the alias's default
    request = recorder.requests[0]
    assert request.headers["authorization"] == "Key bz-from-alias"
    assert str(request.url).endswith("/models/v2/google/gemma-3-4b-it")
    assert json.loads(request.content)["params"] == {
        "max_new_tokens": 20,
        "temperature": 0.1,
        "repetition_penalty": 1.2,
    }


def test_alias_settings_become_client_settings(config_file: Path) -> None:
    with Client.from_config(config_file, "local") as client:
        assert client.base_url == "http://127.0.0.1:4000"
        assert client.timeout.read == 3.0 and client.retry_policy.max_retries == 0
        assert client.params == {}


def test_async_client_from_config(config_file: Path) -> None:
    async def main() -> str:
        async with AsyncClient.from_config(config_file, "local") as client:
            return client.model

    assert asyncio.run(main()) == "llava"


def test_missing_env_var_is_named_and_no_value_is_shown(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BYTEZ_KEY_FOR_TESTS", raising=False)
    monkeypatch.setenv("SOME_OTHER_KEY", "sk-do-not-show")
    with pytest.raises(ConfigError) as caught:
        Client.from_config(config_file, "gemma-3")
    message = str(caught.value)
    assert "BYTEZ_KEY_FOR_TESTS" in message and "gemma-3" in message
    assert str(config_file) in message
    assert "sk-do-not-show" not in message and "1.2" not in message


def test_missing_alias_lists_the_known_ones(config_file: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Client.from_config(config_file, "gpt-5")
    assert "'gemma-3'" in str(caught.value) and "'local'" in str(caught.value)


def test_malformed_yaml_names_the_file_and_hides_its_text(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("model_list:\n  - model_name: x\n    api_key: sk-live-123: [oops\n")
    with pytest.raises(ConfigError) as caught:
        Client.from_config(path, "x")
    assert "broken.yaml" in str(caught.value) and "sk-live-123" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "just text",
        "model_list: 3",
        "model_list:\n  - litellm_params: {model: x}",
        "model_list:\n  - model_name: a\n    litellm_params: {}",
    ],
)
def test_config_of_the_wrong_shape_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"c\.yaml"):
        Client.from_config(path, "a")


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        Client.from_config(tmp_path / "nope.yaml", "a")


# --- the key never leaks ----------------------------------------------------------------------


def test_secret_hides_its_value() -> None:
    secret = Secret("sk-123")
    assert repr(secret) == str(secret) == f"{secret}" == "Secret('****')"
    assert secret.reveal() == "sk-123" and secret == Secret("sk-123")
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def _leaky_handlers() -> list[Handler]:
    def echo_key(request: httpx.Request) -> httpx.Response:  # servers do quote bad keys
        return httpx.Response(
            401,
            json={
                "error": {
                    "message": f"Incorrect API key provided: {request.headers['authorization']}"
                }
            },
        )

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not json " + request.headers["authorization"].encode())

    return [echo_key, drop, timeout, garbage]


@pytest.mark.parametrize("handler", _leaky_handlers())
def test_the_key_never_appears_in_errors_reprs_logs_or_tracebacks(
    handler: Handler,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: mmkit, httpx, httpcore, tenacity
    client = Client(
        BYTEZ_MODEL,
        api_key=KEY,
        transport=httpx.MockTransport(handler),
        max_retries=1,
        backoff=0.001,
    )
    try:
        client.chat("hi")
    except MmkitError as exc:
        seen = [str(exc), repr(exc), traceback.format_exc(), repr(exc.__cause__)]
    else:
        pytest.fail("the request should have failed")
    seen += [repr(client), str(client), caplog.text, repr(client.__dict__)]
    client.close()
    for text in seen:
        assert KEY not in text


def _video_message(fixtures_dir: Path) -> list[Message]:
    return [Message.user("What happens?", video=fixtures_dir / "clip.mp4")]


def test_video_goes_as_frames_by_default_and_as_video_when_the_server_reads_it(
    fixtures_dir: Path,
) -> None:
    recorder = Recorder(OPENAI_OK)
    with Client("m", base_url="http://vllm.test/v1", transport=recorder.transport()) as client:
        client.chat(_video_message(fixtures_dir))
    kinds = [part["type"] for part in recorder.body["messages"][0]["content"]]
    # OpenAI's own shape reads no video: 8 sampled frames, each after a text label
    assert kinds == ["text"] + ["text", "image_url"] * 8
    native = Client(
        "m", base_url="http://vllm.test/v1", transport=recorder.transport(), video="native"
    )
    with native:
        native.chat(_video_message(fixtures_dir))
    (text, video) = recorder.body["messages"][0]["content"]
    assert text == {"type": "text", "text": "What happens?"}
    assert video["type"] == "video_url"
    assert video["video_url"]["url"].startswith("data:video/mp4;base64,")
    # the builder for other processes makes the same body
    builder = pickle.loads(pickle.dumps(native.builder()))
    assert json.loads(builder.build(_video_message(fixtures_dir)).content) == recorder.body


def test_video_mode_is_checked() -> None:
    with pytest.raises(InvalidOptionError, match="video='mp4': use 'native' or 'frames'"):
        Client("m", base_url="http://h", video="mp4")  # type: ignore[arg-type]


def test_every_request_carries_the_same_headers_owned_or_shared_sync_or_async() -> None:
    """mmkit's own httpx client carries the fixed headers and each request only its key; a
    client the caller shares is not changed, and its requests carry them all."""
    from recording_server import Answer, recording_server

    answer = Answer(200, {"choices": [{"message": {"content": "ok"}}]})
    options: dict[str, Any] = {"api_key": "sk-head-1", "headers": {"X-Team": "vision"}}
    with recording_server([answer]) as server, httpx.Client() as shared:
        base = f"{server.url}/v1"
        with Client("m", base_url=base, **options) as owned:
            owned.chat("hi")
            owned.chat("hi again")
        with Client("m", base_url=base, http_client=shared, **options) as borrowing:
            borrowing.chat("hi")

        async def async_call() -> None:
            async with AsyncClient("m", base_url=base, **options) as client:
                await client.chat("hi")

        asyncio.run(async_call())
        assert "x-team" not in shared.headers and shared.headers["accept"] == "*/*"
    for request in server.requests:
        assert {
            name: request.headers.get(name)
            for name in ("content-type", "accept", "accept-encoding", "authorization", "x-team")
        } == {
            "content-type": "application/json",
            "accept": "application/json",
            "accept-encoding": "gzip, deflate",
            "authorization": "Bearer sk-head-1",
            "x-team": "vision",
        }
    assert len(server.requests) == 4
