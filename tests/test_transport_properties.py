"""Properties of the transport's encoders and parsers, without sockets (httpx.MockTransport).

SSE and plain-text streams split anywhere, reply bodies of every shape, error statuses,
Retry-After, parameter mapping, request bodies, key secrecy and LiteLLM-style configs: valid
input round-trips, and bad input gets an MmkitError subclass, never anything else.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import string
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import mmkit
from mmkit.errors import (
    AuthError,
    BadRequestError,
    ConfigError,
    InvalidOptionError,
    MmkitError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
)
from mmkit.message import Message
from mmkit.testing import strategies as mst
from mmkit.transport import AsyncClient, Client, Reply, load_alias, providers
from mmkit.transport.config import read_model_list
from mmkit.transport.retry import parse_retry_after
from mmkit.transport.sse import SSEDecoder

FAST = settings(max_examples=300, deadline=None)
CLIENT = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MEDIA = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BYTEZ_MODEL = "bytez/google/gemma-3-4b-it"
OPENAI_MODEL = "openai/gpt-4o-mini"
KEY = "sk-test-0123456789"

# --- shared strategies ----------------------------------------------------------------------------

JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
# Bodies near the real shapes: the keys the parsers read, holding anything.
NEAR_REPLIES = st.fixed_dictionaries(
    {},
    optional={
        key: JSON_VALUES
        for key in ("choices", "output", "error", "usage", "model", "id", "message", "detail")
    },
)
MESSAGE_SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "role": JSON_VALUES,
        "content": JSON_VALUES
        | st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "type": st.sampled_from(("text", "output_text", "image")) | JSON_VALUES,
                    "text": JSON_VALUES,
                },
            ),
            max_size=3,
        ),
        "generated_text": JSON_VALUES,
    },
)
CHOICE_SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "message": MESSAGE_SHAPED | JSON_VALUES,
        "finish_reason": JSON_VALUES,
        "delta": MESSAGE_SHAPED | JSON_VALUES,
        "index": JSON_VALUES,
    },
)
GARBAGE_BODIES = st.one_of(
    JSON_VALUES,
    NEAR_REPLIES,
    st.fixed_dictionaries(
        {"choices": st.lists(CHOICE_SHAPED | JSON_VALUES, max_size=3)},
        optional={"usage": JSON_VALUES, "model": JSON_VALUES},
    ),
    st.fixed_dictionaries(
        {
            "output": MESSAGE_SHAPED
            | st.lists(MESSAGE_SHAPED | JSON_VALUES, max_size=3)
            | JSON_VALUES
        },
        optional={"error": JSON_VALUES},
    ),
)
TOKENS = st.none() | st.integers(0, 10**6)
FINISH = st.none() | st.sampled_from(("stop", "length", "content_filter", "tool_calls"))
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
# API keys: visible ASCII, as keys are; no space, so none is hidden in the text around it.
_KEY_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=2, max_size=22
)
# Any printable ASCII around a random-looking core, as real keys are: Hypothesis also draws
# strings from mmkit's own source, and a "key" like 'Transpor' is a piece of every error's words.
KEYS = st.builds(lambda head, tail: f"{head}7Zq9{tail}", _KEY_TEXT, _KEY_TEXT)


def dumps(value: Any) -> bytes:
    """JSON as a lenient server writes it (NaN and Infinity included)."""
    return json.dumps(value).encode()


def answer(
    status: int, content: bytes | Iterator[bytes], headers: dict[str, str] | None = None
) -> httpx.MockTransport:
    """A transport that answers every request with `status` and `content`."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    return httpx.MockTransport(handler)


def client_for(model: str, transport: httpx.MockTransport, **options: Any) -> Client:
    return Client(
        model, api_key=options.pop("api_key", KEY), transport=transport, max_retries=0, **options
    )


def split_at(data: Any, cuts: list[int]) -> list[Any]:
    """`data` (str or bytes) cut at the given positions (any order, repeats allowed)."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# --- SSE: OpenAI chunk streams --------------------------------------------------------------------

PIECES = st.lists(st.text(min_size=1, max_size=12), max_size=8)
EXTRA_LINES = st.lists(
    st.sampled_from(
        (": keep-alive", ":", "event: message", "id: 7", "retry: 1000", "event:completion", "id:")
    ),
    max_size=2,
)


def chunk_json(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


@st.composite
def sse_streams(draw: st.DrawFn, pieces: list[str]) -> str:
    """An OpenAI SSE body carrying `pieces`: a role chunk, one chunk a piece, a finish chunk,
    `[DONE]`; comments, event:/id:/retry: lines and keep-alive events anywhere; each line ends
    with \\n, \\r\\n or \\r (never a \\r right before a \\n-started ending: that is one \\r\\n)."""
    ascii_only = draw(st.booleans())
    events = [chunk_json({"role": "assistant", "content": ""})] if draw(st.booleans()) else []
    events += [chunk_json({"content": piece}) for piece in pieces]
    usage = {"prompt_tokens": 3, "completion_tokens": len(pieces), "total_tokens": 3 + len(pieces)}
    events.append(chunk_json({}, "stop", usage=usage))
    lines: list[str] = []
    for event in events:
        if draw(st.booleans()):
            lines += [": ping", ""]  # a comment-only event
        lines += draw(EXTRA_LINES)
        prefix = draw(st.sampled_from(("data: ", "data:")))
        lines += [prefix + json.dumps(event, ensure_ascii=ascii_only), ""]
    lines += [*draw(EXTRA_LINES), "data: [DONE]"]
    closed = draw(st.booleans())
    if closed:
        lines.append("")
    out: list[str] = []
    previous = ""
    for index, line in enumerate(lines):
        endings = ("\r", "\r\n") if previous == "\r" else ("\n", "\r\n", "\r")
        last = index == len(lines) - 1
        ending = draw(st.sampled_from(endings)) if closed or not last else ""
        out.append(line + ending)
        previous = ending
    return "".join(out)


@st.composite
def pieces_and_stream(draw: st.DrawFn) -> tuple[list[str], str]:
    pieces = draw(PIECES)
    return pieces, draw(sse_streams(pieces))


def parse_sse(chunks: list[str]) -> tuple[list[str], Reply]:
    parser = providers.OPENAI.stream_parser("m")
    pieces: list[str] = []
    for chunk in chunks:
        pieces += parser.feed(chunk)
        if parser.finished:
            break
    else:
        pieces += parser.end()
    return pieces, parser.reply({}, 1)


@FAST
@given(pieces_and_stream(), st.lists(st.integers(0, 4000), max_size=30))
@example(
    (
        ["a", "b"],
        'data: {"choices":[{"delta":{"content":"a"}}]}\r\n\n'
        'data: {"choices":[{"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n',
    ),
    [
        len('data: {"choices":[{"delta":{"content":"a"}}]}\r'),
        len('data: {"choices":[{"delta":{"content":"a"}}]}\r\n'),
    ],
)
def test_sse_text_split_anywhere_gives_back_the_pieces(
    case: tuple[list[str], str], cuts: list[int]
) -> None:
    pieces, body = case
    got, reply = parse_sse(split_at(body, cuts))
    assert got == pieces
    assert reply.text == "".join(pieces)


@CLIENT
@given(pieces_and_stream(), st.lists(st.integers(0, 4000), max_size=30))
def test_sse_bytes_split_anywhere_through_the_client(
    case: tuple[list[str], str], cuts: list[int]
) -> None:
    """Byte chunks cut anywhere, mid-line and mid-UTF-8 character, through the whole client."""
    pieces, body = case
    chunks = split_at(body.encode(), cuts)
    transport = answer(200, iter(chunks), {"content-type": "text/event-stream"})
    with client_for(OPENAI_MODEL, transport) as client:
        stream = client.stream("hi")
        got = list(stream)
    assert got == pieces
    assert stream.reply is not None and stream.reply.text == "".join(pieces)
    assert stream.reply.finish_reason == "stop"
    assert stream.reply.usage.completion_tokens == len(pieces)


@CLIENT
@given(pieces_and_stream(), st.lists(st.integers(0, 4000), max_size=30))
def test_sse_bytes_split_anywhere_through_the_async_client(
    case: tuple[list[str], str], cuts: list[int]
) -> None:
    pieces, body = case
    chunks = split_at(body.encode(), cuts)

    async def handler(request: httpx.Request) -> httpx.Response:
        async def content() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return httpx.Response(200, content=content(), headers={"content-type": "text/event-stream"})

    async def main() -> tuple[list[str], str | None]:
        async with AsyncClient(
            OPENAI_MODEL, api_key=KEY, max_retries=0, transport=httpx.MockTransport(handler)
        ) as client:
            stream = client.stream("hi")
            got = [piece async for piece in stream]
            return got, stream.reply.text if stream.reply is not None else None

    assert asyncio.run(main()) == (pieces, "".join(pieces))


@CLIENT
@given(key=KEYS, filler=st.text(alphabet=" .·é→", max_size=50), sync=st.booleans())
def test_a_stream_error_event_quoting_the_key_does_not_show_it(
    key: str, filler: str, sync: bool
) -> None:
    event = {"error": {"message": f"{filler}bad key {key}{filler}"}}
    body = ("data: " + json.dumps(event) + "\n\n").encode()
    transport = answer(200, body, {"content-type": "text/event-stream"})

    async def run_async() -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=body)

        async with AsyncClient(
            OPENAI_MODEL, api_key=key, max_retries=0, transport=httpx.MockTransport(handler)
        ) as client:
            [piece async for piece in client.stream("hi")]

    with pytest.raises(TransportError) as caught:
        if sync:
            with Client(OPENAI_MODEL, api_key=key, transport=transport, max_retries=0) as client:
                list(client.stream("hi"))
        else:
            asyncio.run(run_async())
    assert "bad key ****" in str(caught.value)
    assert key not in str(caught.value) and key not in repr(caught.value)


def test_sse_decoder_keeps_a_crlf_split_before_a_blank_line() -> None:
    """`\\r` | `\\n` | `\\n`: the second `\\n` is a blank line, not half of a `\\r\\n`."""
    decoder = SSEDecoder()
    events = [e for chunk in ("data: a\r", "\n", "\n", "data: b\n\n") for e in decoder.feed(chunk)]
    assert events == ["a", "b"]


SSE_GARBAGE_LINES = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.builds(lambda v: "data: " + json.dumps(v), GARBAGE_BODIES),
        st.builds(lambda v: "data: " + json.dumps(chunk_json({"content": v})), JSON_VALUES),
        st.sampled_from(
            (
                "",
                "data: [DONE]",
                "data:",
                "data: {",
                ": x",
                "data: [[[[",
                'data: {"error": {"message": "boom"}}',
                "data: null",
            )
        ),
    ),
    max_size=12,
)


@st.composite
def garbage_sse(draw: st.DrawFn) -> str:
    lines = draw(SSE_GARBAGE_LINES)
    return "".join(line + draw(st.sampled_from(("\n", "\r\n", "\r", ""))) for line in lines)


@FAST
@given(garbage_sse(), st.lists(st.integers(0, 2000), max_size=10))
@example("data: " + "[" * 100_000 + "\n\n", [])
def test_sse_garbage_gives_pieces_or_a_transport_error(body: str, cuts: list[int]) -> None:
    try:
        pieces, reply = parse_sse(split_at(body, cuts))
    except TransportError as exc:
        assert exc.provider == "openai" and exc.model == "m"
    else:
        assert all(isinstance(p, str) and p for p in pieces)
        assert reply.text == "".join(pieces)


@CLIENT
@given(
    st.binary(max_size=300) | garbage_sse().map(str.encode),
    st.lists(st.integers(0, 400), max_size=8),
)
def test_garbage_stream_bytes_through_the_client(body: bytes, cuts: list[int]) -> None:
    transport = answer(200, iter(split_at(body, cuts)), {"content-type": "text/event-stream"})
    with client_for(OPENAI_MODEL, transport) as client:
        try:
            pieces = list(client.stream("hi"))
        except TransportError as exc:
            assert exc.provider == "openai"
        else:
            assert all(isinstance(p, str) for p in pieces)


# --- Bytez plain-text streams ---------------------------------------------------------------------


@FAST
@given(st.text(), st.lists(st.integers(0, 200), max_size=20))
def test_bytez_text_stream_split_anywhere_gives_back_the_text(text: str, cuts: list[int]) -> None:
    parser = providers.BYTEZ.stream_parser("org/model")
    pieces = [piece for chunk in split_at(text, cuts) for piece in parser.feed(chunk)]
    pieces += parser.end()
    assert "".join(pieces) == text
    assert parser.reply({}, 1).text == text


@CLIENT
@given(st.text(max_size=100), st.lists(st.integers(0, 400), max_size=20))
def test_bytez_text_stream_bytes_split_mid_character_through_the_client(
    text: str, cuts: list[int]
) -> None:
    chunks = split_at(text.encode(), cuts)
    transport = answer(200, iter(chunks), {"content-type": "text/plain; charset=utf-8"})
    with client_for(BYTEZ_MODEL, transport) as client:
        stream = client.stream("hi")
        assert "".join(stream) == text
    assert stream.reply is not None and stream.reply.text == text


# --- replies --------------------------------------------------------------------------------------


@st.composite
def openai_bodies(draw: st.DrawFn) -> tuple[dict[str, Any], str, str | None, tuple[Any, ...]]:
    """(body, text, finish_reason, (prompt, completion, total) as expected on the Reply)."""
    text = draw(st.text(max_size=60))
    as_parts = draw(st.booleans())
    content: Any = text
    if as_parts:  # some servers answer in parts; the text parts are joined
        cut = draw(st.integers(0, len(text)))
        content = [{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}]
    finish = draw(FINISH)
    prompt, completion, total = draw(TOKENS), draw(TOKENS), draw(TOKENS)
    usage = {
        k: v
        for k, v in (
            ("prompt_tokens", prompt),
            ("completion_tokens", completion),
            ("total_tokens", total),
        )
        if v is not None
    }
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
    }
    if draw(st.booleans()):
        body["usage"] = usage
    else:
        prompt = completion = total = None
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    model = draw(st.none() | st.text(min_size=1, max_size=20))
    if model is not None:
        body["model"] = model
    return body, text, finish, (prompt, completion, total, model)


@CLIENT
@given(openai_bodies())
def test_openai_reply_gives_back_text_usage_and_finish_reason(
    case: tuple[dict[str, Any], str, str | None, tuple[Any, ...]],
) -> None:
    body, text, finish, (prompt, completion, total, model) = case
    with client_for(OPENAI_MODEL, answer(200, dumps(body))) as client:
        reply = client.chat("hi")
    assert reply.text == text and reply.texts == [text]
    assert reply.finish_reason == finish
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (
        prompt,
        completion,
        total,
    )
    assert reply.model == (model or "gpt-4o-mini")
    assert reply.provider == "openai" and reply.raw == body


@st.composite
def bytez_bodies(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    text = draw(st.text(max_size=60))
    shape = draw(st.sampled_from(("string", "parts", "parts-split")))
    content: Any = text
    if shape == "parts":
        content = [{"type": "text", "text": text}]
    elif shape == "parts-split":
        cut = draw(st.integers(0, len(text)))
        content = [{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}]
    return {"error": None, "output": {"role": "assistant", "content": content}}, text


@CLIENT
@given(bytez_bodies(), st.integers(0, 10**6), st.integers(0, 10**6))
def test_bytez_reply_gives_back_the_text_and_keeps_metering_headers(
    case: tuple[dict[str, Any], str], remaining: int, meter: int
) -> None:
    body, text = case
    headers = {
        "ratelimit-remaining": str(remaining),
        "inference-meter": str(meter),
        "content-type": "application/json",
        "x-other": "dropped",
    }
    with client_for(BYTEZ_MODEL, answer(200, dumps(body), headers)) as client:
        reply = client.chat("hi")
    assert reply.text == text and reply.texts == [text]
    assert reply.model == "google/gemma-3-4b-it" and reply.provider == "bytez"
    assert reply.headers == {"ratelimit-remaining": str(remaining), "inference-meter": str(meter)}


@CLIENT
@given(
    model=st.sampled_from((OPENAI_MODEL, BYTEZ_MODEL)),
    body=GARBAGE_BODIES.map(dumps) | st.binary(max_size=200),
)
@example(model=OPENAI_MODEL, body=b"[" * 100_000)
@example(model=BYTEZ_MODEL, body=b'{"output": ' + b"[" * 100_000)
def test_any_200_body_gives_a_reply_or_a_transport_error(model: str, body: bytes) -> None:
    with client_for(model, answer(200, body)) as client:
        try:
            reply = client.chat("hi")
        except TransportError as exc:
            assert exc.status == 200 and exc.provider == model.split("/")[0]
            assert exc.model == model.split("/", 1)[1]
        else:
            assert isinstance(reply.text, str)
            assert all(isinstance(t, str) for t in reply.texts)


# --- error statuses -------------------------------------------------------------------------------

_BY_STATUS: dict[int, type[TransportError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    408: TimeoutError,
    429: RateLimitError,
    400: BadRequestError,
    413: BadRequestError,
    415: BadRequestError,
    422: BadRequestError,
}


def expected_class(status: int) -> type[TransportError]:
    return _BY_STATUS.get(status) or (ServerError if status >= 500 else TransportError)


ERROR_BODIES = st.one_of(
    st.builds(
        lambda m: {"error": {"message": m, "type": "x", "code": None}},
        st.text(min_size=1, max_size=40),
    ),
    st.builds(lambda m: {"error": m, "output": None}, st.text(min_size=1, max_size=40)),
    st.builds(lambda m: {"detail": m}, st.text(min_size=1, max_size=40)),
    GARBAGE_BODIES,
)


@CLIENT
@given(
    status=st.integers(400, 599),
    body=ERROR_BODIES.map(dumps) | st.binary(max_size=100),
    model=st.sampled_from((OPENAI_MODEL, BYTEZ_MODEL)),
    streaming=st.booleans(),
    retry_after=st.none() | HEADER_TEXT | st.integers(0, 100).map(str),
)
@example(status=500, body=b"[" * 100_000, model=BYTEZ_MODEL, streaming=False, retry_after=None)
@example(status=503, body=b"{}", model=BYTEZ_MODEL, streaming=False, retry_after="nan")
def test_error_statuses_map_to_the_error_tree(
    status: int, body: bytes, model: str, streaming: bool, retry_after: str | None
) -> None:
    headers = {"retry-after": retry_after} if retry_after is not None else None
    with (
        client_for(model, answer(status, body, headers)) as client,
        pytest.raises(TransportError) as caught,
    ):
        if streaming:
            list(client.stream("hi"))
        else:
            client.chat("hi")
    exc = caught.value
    assert type(exc) is expected_class(status)
    assert exc.status == status
    assert exc.provider == model.split("/")[0] and exc.model == model.split("/", 1)[1]
    assert f"HTTP {status}" in str(exc)
    expected_wait = parse_retry_after(retry_after)
    if expected_wait is None:
        assert exc.retry_after is None
    else:  # an HTTP date's wait shrinks between the two reads
        assert exc.retry_after == pytest.approx(expected_wait, abs=1.0)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return
    error = data.get("error") if isinstance(data, dict) else None
    said = error.get("message") if isinstance(error, dict) else error
    if isinstance(said, str) and said:  # the server's own words are kept
        assert said[:100] in str(exc)


# --- Retry-After ----------------------------------------------------------------------------------


@FAST
@given(st.integers(0, 10**9))
def test_retry_after_integer_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == seconds
    assert parse_retry_after(f" {seconds} ") == seconds


@FAST
@given(st.floats(0, 1e9, allow_nan=False, allow_infinity=False))
def test_retry_after_decimal_seconds(seconds: float) -> None:
    assert parse_retry_after(repr(seconds)) == seconds
    assert parse_retry_after(f"{seconds:.3f}") == pytest.approx(seconds, abs=1e-3)


@FAST
@given(st.floats(-1e9, 0, allow_nan=False, allow_infinity=False))
def test_retry_after_in_the_past_is_zero(seconds: float) -> None:
    assert parse_retry_after(repr(seconds)) == 0.0


@FAST
@given(st.timedeltas(min_value=timedelta(seconds=0), max_value=timedelta(days=3650)))
def test_retry_after_http_date_gives_the_wait(ahead: timedelta) -> None:
    when = datetime.now(timezone.utc) + ahead
    wait = parse_retry_after(format_datetime(when, usegmt=True))
    assert wait is not None
    expected = (when - datetime.now(timezone.utc)).total_seconds()
    assert abs(wait - max(expected, 0.0)) <= 2.0


@FAST
@given(st.timedeltas(min_value=timedelta(seconds=2), max_value=timedelta(days=3650)))
def test_retry_after_http_date_in_the_past_is_zero(behind: timedelta) -> None:
    when = datetime.now(timezone.utc) - behind
    assert parse_retry_after(format_datetime(when, usegmt=True)) == 0.0


@FAST
@given(
    st.none()
    | st.text(max_size=60)
    | st.from_regex(
        r"(Mon|Sun|Xyz), [0-9]{1,25} (Jan|Feb|Foo) [0-9]{1,25} [0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}"
        r" (GMT|UTC|[+-][0-9]{4}|XYZ)",
        fullmatch=True,
    )
)
@example("nan")
@example("inf")
@example("-nan")
@example("Infinity")
@example("1e999")
@example("Mon, 01 Jan 99999999999999999999 00:00:00 GMT")
@example("Mon, 99 Jan 2020 00:00:00 GMT")
@example("Mon, 01 Jan 2020 99:00:00 +9999")
def test_retry_after_garbage_is_none_or_a_finite_wait(value: str | None) -> None:
    wait = parse_retry_after(value)
    assert wait is None or (math.isfinite(wait) and wait >= 0.0)
    if value is not None and value.strip().lower() in ("nan", "-nan", "inf", "infinity", "1e999"):
        assert wait is None


# --- parameter mapping ----------------------------------------------------------------------------

# The wire-formats doc: OpenAI names and their Hugging Face `generate` names.
HF_NAMES = {
    "max_tokens": "max_new_tokens",
    "max_completion_tokens": "max_new_tokens",
    "n": "num_return_sequences",
    "stop": "stop_strings",
}
# What the wire-formats doc says each provider refuses or takes, written out (not read from the
# code under test). Bytez refuses OpenAI-only features by name:
BYTEZ_REFUSED = frozenset(
    {
        "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call",
        "response_format", "logprobs", "top_logprobs", "logit_bias", "user", "stream_options",
        "modalities", "audio", "reasoning_effort", "service_tier", "store", "metadata",
        "prediction", "web_search_options", "presence_penalty", "frequency_penalty",
    }
)  # fmt: skip
# OpenAI's own chat API takes these and nothing else:
OPENAI_PARAMS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
        "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
        "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier",
        "stop", "store", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip
PARAM_NAMES = st.one_of(
    st.sampled_from(sorted(HF_NAMES)),
    st.sampled_from(sorted(set(HF_NAMES.values()))),
    st.sampled_from(sorted(BYTEZ_REFUSED)),
    st.sampled_from(sorted(OPENAI_PARAMS)),
    st.sampled_from(
        ("temperature", "top_p", "top_k", "repetition_penalty", "do_sample", "seed", "num_beams")
    ),
    st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
)
PARAMS = st.dictionaries(PARAM_NAMES, JSON_SCALARS, max_size=8)


def expected_mapping(
    params: dict[str, Any], rename: dict[str, str], refused: Callable[[str], bool], drop: bool
) -> dict[str, Any] | None:
    """What map_params must give (None: it must raise InvalidOptionError)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:  # "not set", as in the openai SDK
            continue
        if refused(name):
            if drop:
                continue
            return None
        wire = rename.get(name, name)
        if wire in out:  # two names for one wire parameter
            return None
        out[wire] = value
    return out


@FAST
@given(PARAMS, st.booleans())
def test_bytez_params_take_hugging_face_names_and_nothing_is_lost(
    params: dict[str, Any], drop: bool
) -> None:
    refused = BYTEZ_REFUSED
    expected = expected_mapping(params, HF_NAMES, lambda n: n in refused, drop)
    if expected is None:
        with pytest.raises(InvalidOptionError):
            providers.BYTEZ.map_params(params, drop)
        return
    out = providers.BYTEZ.map_params(params, drop)
    assert out == expected
    for name, value in params.items():  # every key accounted for
        if value is not None and name not in refused:
            assert out[HF_NAMES.get(name, name)] is value
    assert not set(out) & set(HF_NAMES)  # no OpenAI-only name reaches Bytez


@FAST
@given(PARAMS, st.booleans())
def test_openai_params_pass_as_named_and_unknown_ones_are_refused(
    params: dict[str, Any], drop: bool
) -> None:
    known = OPENAI_PARAMS
    expected = expected_mapping(params, {}, lambda n: n not in known, drop)
    if expected is None:
        with pytest.raises(InvalidOptionError):
            providers.OPENAI.map_params(params, drop)
        return
    assert providers.OPENAI.map_params(params, drop) == expected


_CALL_OPTIONS = ("stream", "extra_body", "timeout", "max_retries", "drop_params")


@CLIENT
@given(PARAMS.filter(lambda p: not set(p) & set(_CALL_OPTIONS)), st.booleans())
def test_params_reach_the_bytez_body_under_their_wire_names(
    params: dict[str, Any], drop: bool
) -> None:
    refused = BYTEZ_REFUSED
    expected = expected_mapping(params, HF_NAMES, lambda n: n in refused, drop)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"error": None, "output": "ok"})

    with client_for(BYTEZ_MODEL, httpx.MockTransport(handler), drop_params=drop) as client:
        if expected is None:
            with pytest.raises(InvalidOptionError):
                client.chat("hi", **params)
            assert not seen  # refused before sending
            return
        client.chat("hi", **params)
    sent = json.loads(seen[0].content)["params"]
    assert json.dumps(sent, sort_keys=True) == json.dumps(expected, sort_keys=True)


def _circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


NOT_JSON = st.sampled_from(
    (
        b"bytes",
        {1, 2},
        1j,
        object(),
        datetime(2020, 1, 1).date(),
        _circular(),
        np.float32(0.5),
        [b"x"],
    )
)


@CLIENT
@given(
    params=PARAMS.filter(lambda p: not set(p) & set(_CALL_OPTIONS) and not set(p) & BYTEZ_REFUSED),
    name=st.sampled_from(("temperature", "top_k", "stop", "custom")),
    bad=NOT_JSON,
)
def test_a_parameter_json_cannot_carry_is_an_invalid_option(
    params: dict[str, Any], name: str, bad: Any
) -> None:
    """Bytes, dates, sets, numpy scalars: an InvalidOptionError before sending, not a TypeError
    from json."""
    params = {k: v for k, v in params.items() if HF_NAMES.get(k, k) != HF_NAMES.get(name, name)}
    assume(expected_mapping(params, HF_NAMES, lambda n: False, drop=False) is not None)
    recorder = Recorder()
    with (
        client_for(BYTEZ_MODEL, httpx.MockTransport(recorder)) as client,
        pytest.raises(InvalidOptionError, match="JSON"),
    ):
        client.chat("hi", **params, **{name: bad})
    assert not recorder.requests


# --- request bodies and keys ----------------------------------------------------------------------


class Recorder:
    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.body = (
            body
            if body is not None
            else {"error": None, "output": "ok", "choices": [{"message": {"content": "ok"}}]}
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, content=dumps(self.body))


def normalized(value: Any) -> Any:
    return json.loads(json.dumps(value))


@MEDIA
@given(
    messages=st.lists(mst.messages(), min_size=1, max_size=3),
    model=st.sampled_from((BYTEZ_MODEL, OPENAI_MODEL)),
)
def test_request_messages_are_the_wire_format_s_encoding(
    messages: list[Message], model: str
) -> None:
    recorder = Recorder()
    with client_for(model, httpx.MockTransport(recorder)) as client:
        client.chat(messages)
    sent = json.loads(recorder.requests[0].content)
    encode = mmkit.to_bytez if model.startswith("bytez/") else mmkit.to_openai
    assert sent["messages"] == normalized(encode(messages))


LEAKY_BODIES: list[Callable[[str, str], tuple[int, bytes]]] = [
    lambda key, filler: (401, dumps({"error": {"message": f"Incorrect API key: {key}"}})),
    lambda key, filler: (403, dumps({"error": f"{filler}{key}{filler}", "output": None})),
    lambda key, filler: (422, dumps({"detail": [{"msg": f"bad key {key}", "loc": ["header"]}]})),
    lambda key, filler: (400, dumps({"message": {"key": key}})),
    lambda key, filler: (500, f"{filler}{key}{filler}".encode()),
    lambda key, filler: (200, f"{filler}{key}{filler}".encode()),
    lambda key, filler: (200, dumps({"error": {"message": f"{filler}{key}"}})),
]


@CLIENT
@example(
    key="sk-" + "x" * 30, model=BYTEZ_MODEL, leak=LEAKY_BODIES[4], filler=" ." * 240, message="hi"
)
@example(
    key="sk-" + "x" * 30, model=OPENAI_MODEL, leak=LEAKY_BODIES[5], filler="." * 190, message="hi"
)
@given(
    key=KEYS,
    model=st.sampled_from((BYTEZ_MODEL, OPENAI_MODEL)),
    leak=st.sampled_from(LEAKY_BODIES),
    filler=st.text(alphabet=" .·é→", max_size=600),
    message=st.text(max_size=40),
)
def test_the_key_never_appears_in_reprs_errors_or_bodies(
    key: str, model: str, leak: Callable[[str, str], tuple[int, bytes]], filler: str, message: str
) -> None:
    assume(key not in message)  # the drawn prompt may not quote the key by chance
    # nor be a piece of the repr's own words (a key drawn as "api_key=")
    with Client(model, api_key="placeholder") as shown:
        assume(key not in repr(shown))
    status, body = leak(key, filler)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body)

    with Client(
        model, api_key=key, transport=httpx.MockTransport(handler), max_retries=0
    ) as client:
        assert key not in repr(client) and key not in str(client)
        with pytest.raises(TransportError) as caught:
            client.chat(message)
    exc = caught.value
    for text in (str(exc), repr(exc), *map(str, exc.args)):
        assert key not in text
        assert key[:8] not in text  # nor its start, cut off by a length limit
    request = seen[0]
    assert key.encode() not in request.content
    scheme = "Key" if model.startswith("bytez/") else "Bearer"
    assert request.headers["authorization"] == f"{scheme} {key}"


@FAST
@given(
    key=st.text(min_size=8, max_size=30).filter(
        lambda k: not all(0x20 <= ord(c) < 0x7F for c in k)
    ),
    model=st.sampled_from((BYTEZ_MODEL, OPENAI_MODEL)),
)
@example(key="sk-abc\n123456", model=OPENAI_MODEL)
@example(key="sk-abcdé123456", model=BYTEZ_MODEL)
def test_a_key_no_http_header_can_carry_is_refused_without_showing_it(key: str, model: str) -> None:
    """A stray newline or non-ASCII character would fail inside httpx (or quote the key)."""
    with pytest.raises(AuthError) as caught:
        Client(model, api_key=key, transport=httpx.MockTransport(Recorder()))
    assert key not in str(caught.value) and repr(key) not in str(caught.value)
    assert caught.value.provider == model.split("/")[0]


# --- config ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs")


# PyYAML's emitter writes these raw with allow_unicode=True, and its reader takes them as line
# breaks (YAML 1.1): a PyYAML round-trip limit, not mmkit's.
YAML_TEXT = st.characters(exclude_characters="\x85\u2028\u2029")
_RESERVED = {
    "model",
    "api_key",
    "api_base",
    "base_url",
    "timeout",
    "max_retries",
    "num_retries",
    "drop_params",
    "rpm",
    "tpm",
    "stream",
    "extra_body",
}
ALIAS_PARAM_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(YAML_TEXT, max_size=20).filter(lambda s: not s.startswith("os.environ/"))
)
ALIAS_PARAMS = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
        lambda n: (
            n not in _RESERVED
            and n not in BYTEZ_REFUSED
            and n not in HF_NAMES
            and n not in HF_NAMES.values()
        )
    ),
    ALIAS_PARAM_VALUES,
    max_size=6,
)
ENV_NAMES = st.from_regex(r"MMKIT_PROP_[A-Z0-9_]{1,12}", fullmatch=True)
MODELS = st.from_regex(r"bytez/[a-z0-9][a-z0-9-]{0,10}/[a-z0-9][a-z0-9.-]{0,15}", fullmatch=True)


def config_path(folder: Path, text: str) -> Path:
    handle, name = tempfile.mkstemp(suffix=".yaml", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    return Path(name)


@CLIENT
@given(
    aliases=st.lists(
        st.text(YAML_TEXT, min_size=1, max_size=20), min_size=1, max_size=4, unique=True
    ),
    model=MODELS,
    params=ALIAS_PARAMS,
    env=ENV_NAMES,
    key=KEYS,
    data=st.data(),
)
def test_config_aliases_load_back_and_send_their_params(
    config_dir: Path,
    aliases: list[str],
    model: str,
    params: dict[str, Any],
    env: str,
    key: str,
    data: st.DataObject,
) -> None:
    entries = [
        {"model_name": name, "litellm_params": {"model": "bytez/other/model"}} for name in aliases
    ]
    chosen = data.draw(st.sampled_from(aliases))
    entries[aliases.index(chosen)]["litellm_params"] = {
        "model": model,
        "api_key": f"os.environ/{env}",
        **params,
    }
    path = config_path(
        config_dir, yaml.safe_dump({"model_list": entries}, allow_unicode=data.draw(st.booleans()))
    )
    os.environ[env] = key
    try:
        alias = load_alias(path, chosen)
        assert alias.name == chosen and alias.model == model
        assert alias.params == params
        assert alias.api_key is not None and alias.api_key.reveal() == key
        assert set(read_model_list(path)) == set(aliases)

        recorder = Recorder()
        with Client.from_config(
            path, chosen, transport=httpx.MockTransport(recorder), max_retries=0
        ) as client:
            client.chat("hi")
    finally:
        del os.environ[env]
        path.unlink()
    request = recorder.requests[0]
    assert request.headers["authorization"] == f"Key {key}"
    assert request.url.path == "/models/v2/" + model.split("/", 1)[1]
    sent = json.loads(request.content)["params"]
    assert sent == normalized({k: v for k, v in params.items() if v is not None})


CONFIG_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=string.printable, max_size=200),
    st.builds(lambda v: yaml.safe_dump(v), JSON_VALUES),
)


@FAST
@given(CONFIG_TEXT, st.text(max_size=10))
@example("model_list: 2020-13-45", "a")
@example("model_list:\n  - model_name: 2001-02-29\n", "a")
@example("model_list: [{model_name: a, litellm_params: {model: x, when: 2020-02-30}}]", "a")
@example("[" * 5000, "a")
def test_any_config_text_loads_or_is_a_config_error(
    config_dir: Path, text: str, alias: str
) -> None:
    path = config_path(config_dir, text)
    try:
        read_model_list(path)
        load_alias(path, alias)
    except ConfigError as exc:
        assert str(path) in str(exc)
    finally:
        path.unlink()


SETTING_VALUES = JSON_VALUES | st.sampled_from(
    ("os.environ/MMKIT_PROP_UNSET", "http://x", "bytez/o/m", "openai/m", "bytez/", "sk-é")
)


@CLIENT
@given(
    st.dictionaries(
        st.sampled_from(
            (
                "model",
                "api_key",
                "api_base",
                "base_url",
                "timeout",
                "max_retries",
                "num_retries",
                "drop_params",
                "rpm",
                "max_tokens",
            )
        ),
        SETTING_VALUES,
        max_size=6,
    )
)
@example({"model": "bytez/o/m", "max_retries": None})
@example({"model": "bytez/o/m", "max_retries": "two"})
@example({"model": "bytez/o/m", "timeout": [1]})
def test_any_alias_gives_a_client_or_an_mmkit_error(
    config_dir: Path, litellm_params: dict[str, Any]
) -> None:
    model = litellm_params.get("model")
    assume(not (isinstance(model, str) and model.split("/")[0] == "echo"))  # starts a server
    path = config_path(
        config_dir,
        yaml.safe_dump({"model_list": [{"model_name": "a", "litellm_params": litellm_params}]}),
    )
    try:
        with Client.from_config(path, "a", transport=httpx.MockTransport(Recorder())):
            pass
    except MmkitError:
        pass
    finally:
        path.unlink()
