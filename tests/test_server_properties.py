"""Properties of the conformance server over real sockets (one server on 127.0.0.1 for the module).

Any body gets a 2xx or a 4xx in its API's error shape, never a 5xx or a dropped connection; any
valid message list is described part by part; a stream says what the plain reply says.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from PIL import ImageOps

from mmkit.media.sniff import short_name, sniff
from mmkit.server import RunningServer
from mmkit.testing import strategies as mst

OPENAI_ROUTE = "/v1/chat/completions"
BYTEZ_ROUTE = "/models/v2/org/model"
ROUTES = (OPENAI_ROUTE, BYTEZ_ROUTE)
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
MANY = settings(max_examples=150, deadline=None, suppress_health_check=SLOW)
SOME = settings(max_examples=100, deadline=None, suppress_health_check=SLOW)

# What OpenAI's API accepts (and what the server accepts on its OpenAI routes).
OPENAI_IMAGES = mst.image_bytes(formats=("png", "jpeg", "webp", "gif"), max_side=48)
IMAGE_URLS = st.one_of(
    mst.https_image_urls(), mst.data_uris(OPENAI_IMAGES), mst.data_uris(OPENAI_IMAGES)
)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        yield c


def post(client: httpx.Client, route: str, content: bytes) -> httpx.Response:
    """POST raw bytes; a dropped connection or timeout fails the test with the route named."""
    try:
        return client.post(route, content=content, headers={"content-type": "application/json"})
    except httpx.TransportError as exc:
        pytest.fail(f"{route}: the connection failed ({type(exc).__name__}: {exc})")


def dumps(value: Any) -> bytes:
    """JSON as any client may write it: lone surrogates as \\ud800 escapes, NaN as NaN."""
    return json.dumps(value).encode()


def assert_answered_in_shape(route: str, response: httpx.Response) -> None:
    """2xx, or a 4xx in the route's API error shape; never a 5xx."""
    status = response.status_code
    event(f"HTTP {status}")
    assert status < 500, f"{route}: HTTP {status}: {response.text[:500]}"
    if status < 300:
        if response.headers["content-type"].startswith("application/json"):
            body = response.json()
            if route == OPENAI_ROUTE:
                assert isinstance(body["choices"][0]["message"]["content"], str)
            else:
                assert body["error"] is None and isinstance(body["output"]["content"], str)
        return
    assert 400 <= status < 500, f"{route}: HTTP {status}"
    body = response.json()
    if route == OPENAI_ROUTE:
        assert set(body) == {"error"}, body
        error = body["error"]
        assert isinstance(error, dict) and {"message", "type", "code"} <= set(error)
        assert isinstance(error["message"], str) and error["message"]
    else:
        assert set(body) == {"error", "output"}, body
        assert isinstance(body["error"], str) and body["error"] and body["output"] is None


# --- strategies -----------------------------------------------------------------------------------

TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=12)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)
# Objects near a chat body, the keys the server reads holding anything.
NEAR_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "model": JSON_VALUES | st.just("echo"),
        "messages": JSON_VALUES
        | st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "role": JSON_VALUES | st.sampled_from(("user", "assistant", "system", "tool")),
                    "content": JSON_VALUES
                    | st.lists(
                        JSON_VALUES
                        | st.fixed_dictionaries(
                            {
                                "type": st.sampled_from(
                                    (
                                        "text",
                                        "image_url",
                                        "input_audio",
                                        "video_url",
                                        "audio_url",
                                        "file",
                                        "image",
                                        "audio",
                                        "video",
                                    )
                                )
                                | JSON_VALUES
                            },
                            optional={
                                key: JSON_VALUES
                                for key in (
                                    "text",
                                    "image_url",
                                    "input_audio",
                                    "video_url",
                                    "file",
                                    "url",
                                    "base64",
                                )
                            },
                        ),
                        max_size=3,
                    ),
                },
            ),
            max_size=3,
        ),
        "stream": JSON_VALUES | st.booleans(),
        "max_tokens": JSON_VALUES | st.integers(-2, 5),
        "max_completion_tokens": JSON_VALUES,
        "stream_options": JSON_VALUES,
        "params": JSON_VALUES
        | st.fixed_dictionaries({}, optional={"max_new_tokens": JSON_VALUES | st.integers(-2, 5)}),
    },
)


def to_bytez_message(message: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI message dict in Bytez parts: image_url -> {"type":"image","url"|"base64"}."""
    content = message.get("content")
    if not isinstance(content, list):
        return dict(message)
    parts: list[dict[str, Any]] = []
    for part in content:
        if part["type"] == "image_url":
            url = part["image_url"]["url"]
            parts.append({"type": "image", "base64" if url.startswith("data:") else "url": url})
        else:
            parts.append(part)
    return {**message, "content": parts}


ANY_MESSAGE = mst.openai_messages(image_urls=IMAGE_URLS, max_parts=3)
USER_MESSAGE = mst.openai_messages(roles=("user",), image_urls=IMAGE_URLS, max_parts=3)
# A user turn of parts, images more likely than in openai_messages() (whose turns are often a
# plain string): images are what the server decodes.
IMAGE_TURN = st.builds(
    lambda parts: {"role": "user", "content": parts},
    st.lists(
        st.one_of(
            mst.texts().map(lambda t: {"type": "text", "text": t}),
            IMAGE_URLS.map(lambda url: {"type": "image_url", "image_url": {"url": url}}),
            mst.data_uris(OPENAI_IMAGES).map(
                lambda url: {"type": "image_url", "image_url": {"url": url}}
            ),
        ),
        min_size=1,
        max_size=4,
    ),
)
# Up to two turns of any role, then (mostly) a user turn: the one the server describes.
CONVERSATIONS = st.builds(
    lambda before, last: [*before, last],
    st.lists(ANY_MESSAGE, max_size=2),
    st.one_of(USER_MESSAGE, IMAGE_TURN, ANY_MESSAGE),
)
TOKENS = st.none() | st.integers(1, 12)


@st.composite
def valid_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """(route, body without `stream`, the OpenAI messages it holds)."""
    messages = draw(CONVERSATIONS)
    route = draw(st.sampled_from(ROUTES))
    tokens = draw(TOKENS)
    if route == OPENAI_ROUTE:
        body: dict[str, Any] = {"model": "echo", "messages": messages}
        if tokens is not None:
            body[draw(st.sampled_from(("max_tokens", "max_completion_tokens")))] = tokens
    else:
        body = {"messages": [to_bytez_message(m) for m in messages]}
        if tokens is not None:
            body["params"] = {"max_new_tokens": tokens}
    return route, body, messages


def slots(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) for every value inside `value`."""
    found: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        pairs = (
            item.items()
            if isinstance(item, dict)
            else enumerate(item)
            if isinstance(item, list)
            else ()
        )
        for key, child in pairs:
            found.append((item, key))
            stack.append(child)
    return found


def data_uri_slots(value: Any) -> list[tuple[Any, Any]]:
    return [(c, k) for c, k in slots(value) if isinstance(c[k], str) and c[k].startswith("data:")]


LYING_TYPES = st.sampled_from(
    (
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/svg+xml",
        "audio/wav",
        "video/mp4",
        "text/plain",
        "application/octet-stream",
        "",
        "png",
        "IMAGE/JPG",
    )
)
BAD_BASE64 = st.sampled_from(
    ("strip_padding", "whitespace", "urlsafe", "bang", "truncate", "empty", "newline")
)


def _spoil(payload: str, how: str, cut: int) -> str:
    if how == "strip_padding":
        return payload.rstrip("=") or "A"
    if how == "whitespace":
        return payload[:cut] + " " + payload[cut:]
    if how == "urlsafe":
        return payload.replace("+", "-").replace("/", "_") + "-_"
    if how == "bang":
        return payload[:cut] + "!" + payload[cut:]
    if how == "truncate":
        return payload[: max(cut, 1) - 1] if len(payload) % 4 == 0 else payload[:cut]
    if how == "newline":
        return payload[:cut] + "\n" + payload[cut:]
    return ""


MEDIA_BYTES = st.one_of(
    mst.corrupt_bytes(max_size=512),
    OPENAI_IMAGES,
    st.sampled_from(
        (
            b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40),
            b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(64),
            b"\x00\x00\x00\x18ftypmp42" + bytes(64),
            b"\x1aE\xdf\xa3" + bytes(64),
            b"OggS" + bytes(64),
            b"%PDF-1.4\n%" + bytes(16),
        )
    ),
)
MEDIA_TYPES = st.sampled_from(
    (
        "audio/wav",
        "audio/mpeg",
        "video/mp4",
        "video/webm",
        "audio/ogg",
        "application/pdf",
        "image/png",
    )
)


@st.composite
def media_parts(draw: st.DrawFn) -> dict[str, Any]:
    """Audio, video and file parts (both APIs' shapes) holding drawn, mostly broken bytes."""
    payload = base64.b64encode(draw(MEDIA_BYTES)).decode()
    uri = f"data:{draw(MEDIA_TYPES)};base64,{payload}"
    return draw(
        st.sampled_from(
            (
                {
                    "type": "input_audio",
                    "input_audio": {
                        "data": payload,
                        "format": draw(st.sampled_from(("wav", "mp3"))),
                    },
                },
                {"type": "file", "file": {"file_data": uri, "filename": "a.bin"}},
                {"type": "video_url", "video_url": {"url": uri}},
                {"type": "audio_url", "audio_url": {"url": uri}},
                {
                    "type": draw(st.sampled_from(("audio", "video", "image"))),
                    "base64": draw(st.sampled_from((uri, payload))),
                },
            )
        )
    )


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    """`body` after 1 to 3 mutations: keys dropped or replaced by anything, part types changed,
    base64 spoiled, data-URI MIME types lying, media bytes replaced by corrupt ones."""
    body = copy.deepcopy(body)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(("drop", "replace", "retype", "base64", "mime", "corrupt", "media"))
        )
        places = slots(body)
        uris = data_uri_slots(body)
        if kind in ("base64", "mime", "corrupt") and uris:
            container, key = draw(st.sampled_from(uris))
            header, _, payload = container[key].partition(",")
            if kind == "base64":
                cut = draw(st.integers(0, len(payload)))
                container[key] = f"{header},{_spoil(payload, draw(BAD_BASE64), cut)}"
            elif kind == "mime":
                container[key] = f"data:{draw(LYING_TYPES)};base64,{payload}"
            else:
                data = base64.b64encode(draw(mst.corrupt_bytes(max_size=512))).decode()
                container[key] = f"{header},{data}"
        elif kind == "media":
            contents = [c[k] for c, k in places if k == "content" and isinstance(c[k], list)]
            if contents:
                parts = draw(st.sampled_from(contents))
                parts.insert(draw(st.integers(0, len(parts))), draw(media_parts()))
        elif kind == "retype":
            parts = [(c, k) for c, k in places if k == "type"]
            if parts:
                container, key = draw(st.sampled_from(parts))
                container[key] = draw(
                    st.sampled_from(
                        (
                            "text",
                            "image_url",
                            "input_audio",
                            "video_url",
                            "audio_url",
                            "file",
                            "image",
                            "audio",
                            "video",
                            "output_text",
                            "",
                        )
                    )
                )
        elif places:
            container, key = draw(st.sampled_from(places))
            if kind == "drop":
                del container[key]
            else:
                container[key] = draw(JSON_VALUES)
    return body


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    route, body, _ = draw(valid_requests())
    if draw(st.booleans()):
        body["stream"] = True
    return route, draw(mutated(body))


# --- any body: a 2xx or a 4xx in shape ------------------------------------------------------------


@MANY
@given(route=st.sampled_from(ROUTES), body=JSON_VALUES | NEAR_BODIES)
@example(
    route=OPENAI_ROUTE, body={"model": "echo", "messages": [{"role": "user", "content": "\ud800"}]}
)
@example(
    route=BYTEZ_ROUTE, body={"stream": True, "messages": [{"role": "user", "content": "a \udc00"}]}
)
@example(
    route=OPENAI_ROUTE, body={"model": "\udc00", "messages": [{"role": "user", "content": "x"}]}
)
def test_any_json_body_gets_a_2xx_or_a_4xx_in_shape(
    client: httpx.Client, route: str, body: Any
) -> None:
    assert_answered_in_shape(route, post(client, route, dumps(body)))


@MANY
@given(case=mutated_requests())
def test_mutated_valid_bodies_get_a_2xx_or_a_4xx_in_shape(
    client: httpx.Client, case: tuple[str, dict[str, Any]]
) -> None:
    route, body = case
    assert_answered_in_shape(route, post(client, route, dumps(body)))


@SOME
@given(
    route=st.sampled_from(ROUTES),
    content=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=100).map(str.encode),
        valid_requests().flatmap(
            lambda c: st.integers(0, len(dumps(c[1]))).map(lambda cut: dumps(c[1])[:cut])
        ),  # valid JSON cut short
    ),
)
@example(route=OPENAI_ROUTE, content=b"[" * 100_000)
@example(route=BYTEZ_ROUTE, content=b'{"messages": ' + b"[" * 100_000)
@example(route=BYTEZ_ROUTE, content=b"\xff\xfe{}")
def test_non_json_bytes_get_a_4xx_in_shape(
    client: httpx.Client, route: str, content: bytes
) -> None:
    response = post(client, route, content)
    assert_answered_in_shape(route, response)


# --- hostile bodies: each is wrong, and each gets a 4xx JSON error --------------------------------

# A valid 1×1 PNG, the one image every spoiled body starts from.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
# Spoilings that no strict base64 decoder accepts (see _spoil).
ALWAYS_BAD_BASE64 = st.sampled_from(("whitespace", "urlsafe", "bang", "newline", "empty"))
# Bytes that are no image: unknown to the sniffer, or another kind of file.
NOT_IMAGES = st.binary(max_size=300).filter(lambda data: sniff(data) is None) | st.sampled_from(
    (
        b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40),
        b"\x00\x00\x00\x18ftypmp42" + bytes(64),
        b"%PDF-1.4\n%" + bytes(16),
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
)
# (where in the body, a value of the wrong type or out of range for it)
WRONG_VALUES: dict[str, tuple[Any, ...]] = {
    "model": (None, 1, "", [], {}, True),
    "messages": (None, 1, "hi", {}, []),
    "message": (None, 1, "hi", []),
    "role": (None, 1, "", "robot", [], {}),
    "content": (1, 1.5, True, {}, []),
    "part": (None, 1, "hi", []),
    "type": (None, 1, "", "output_text", "picture", []),
    "stream": ("yes", 1, 0, [], {}),
    "max_tokens": (0, -1, "5", 1.5, True, []),
    "params": (1, "x", []),
}
OPENAI_ONLY = ("model",)
BYTEZ_ONLY = ("params",)


def image_part(route: str, uri: str) -> dict[str, Any]:
    if route == OPENAI_ROUTE:
        return {"type": "image_url", "image_url": {"url": uri}}
    return {"type": "image", "base64": uri}


def body_for(route: str, part: dict[str, Any]) -> dict[str, Any]:
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is it?"}, part]}]
    return (
        {"model": "echo", "messages": messages} if route == OPENAI_ROUTE else {"messages": messages}
    )


@st.composite
def wrong_types(draw: st.DrawFn, route: str) -> bytes:
    body = body_for(route, image_part(route, f"data:image/png;base64,{PNG_B64}"))
    places = [
        p for p in WRONG_VALUES if p not in (BYTEZ_ONLY if route == OPENAI_ROUTE else OPENAI_ONLY)
    ]
    place = draw(st.sampled_from(places))
    value = draw(st.sampled_from(WRONG_VALUES[place]))
    message = body["messages"][0]
    if place in ("model", "messages", "stream"):
        body[place] = value
    elif place == "message":
        body["messages"][0] = value
    elif place in ("role", "content"):
        message[place] = value
    elif place == "part":
        message["content"][1] = value
    elif place == "type":
        message["content"][1]["type"] = value
    elif place == "max_tokens":
        if route == OPENAI_ROUTE:
            body[draw(st.sampled_from(("max_tokens", "max_completion_tokens")))] = value
        else:
            body["params"] = {"max_new_tokens": value}
    else:
        body["params"] = value
    return dumps(body)


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(what is wrong, route, body) for a body that is wrong in one way."""
    route = draw(st.sampled_from(ROUTES))
    kind = draw(st.sampled_from(("bad_json", "wrong_type", "deep", "bad_base64", "not_an_image")))
    if kind == "bad_json":
        valid = dumps(draw(valid_requests())[1])
        content = draw(
            st.one_of(
                st.integers(0, len(valid) - 1).map(lambda cut: valid[:cut]),  # cut short
                st.binary(max_size=100).map(lambda tail: b"\xff" + tail),  # not UTF-8
                st.sampled_from((b"{'model': 'echo'}", b"{,}", b'{"messages": [1,]}', b"nul")),
            )
        )
    elif kind == "wrong_type":
        content = draw(wrong_types(route))
    elif kind == "deep":
        levels = draw(st.integers(64, 150_000))  # the body object is one level more
        start = b'{"model":"echo","messages":' if route == OPENAI_ROUTE else b'{"messages":'
        content = start + b"[" * levels + b"]" * levels + b"}"
    elif kind == "bad_base64":
        how = draw(ALWAYS_BAD_BASE64)
        payload = _spoil(PNG_B64, how, draw(st.integers(0, len(PNG_B64))))
        uri = draw(st.sampled_from((f"data:image/png;base64,{payload}", payload)))
        if route == OPENAI_ROUTE and not uri.startswith("data:"):
            uri = f"data:image/png;base64,{payload}"  # OpenAI takes data URIs only
        content = dumps(body_for(route, image_part(route, uri)))
    else:
        payload = base64.b64encode(draw(NOT_IMAGES)).decode()
        content = dumps(body_for(route, image_part(route, f"data:image/png;base64,{payload}")))
    event(kind)
    return kind, route, content


@MANY
@given(case=hostile_requests())
@example(case=("deep", OPENAI_ROUTE, b'{"model":"echo","messages":' + b"[" * 64 + b"]" * 64 + b"}"))
@example(
    case=("wrong_type", BYTEZ_ROUTE, b'{"messages":[{"role":"user","content":"x"}],"stream":1}')
)
def test_hostile_bodies_get_a_4xx_json_error(
    client: httpx.Client, case: tuple[str, str, bytes]
) -> None:
    kind, route, content = case
    response = post(client, route, content)
    assert 400 <= response.status_code < 500, f"{kind}: HTTP {response.status_code}"
    assert_answered_in_shape(route, response)
    if kind == "deep":  # refused for its depth (or its size) before it is parsed
        body = response.json()
        message = body["error"]["message"] if route == OPENAI_ROUTE else body["error"]
        assert "server's limit of" in message, message


# --- valid bodies: each part described in order ---------------------------------------------------


def describe_image_url(url: str) -> str:
    if not url.startswith("data:"):
        parts = urlsplit(url)
        return f"image URL {urlunsplit((parts.scheme, parts.netloc, parts.path, '', ''))}"
    data = base64.b64decode(url.partition(",")[2])
    with PILImage.open(io.BytesIO(data)) as im:
        width, height = ImageOps.exif_transpose(im).size  # as displayed: EXIF orientation applied
    mime = sniff(data)
    assert mime is not None
    return f"image {width}×{height} {short_name(mime).upper()}"


def quoted(text: str) -> str:
    """A text part as the server quotes it: 40 characters, then "…" if it had more."""
    return f'text "{text}"' if len(text) <= 40 else f'text "{text[:40]}…"'


def expected_descriptions(messages: list[dict[str, Any]]) -> list[str]:
    """What the server says of the last user message, part by part."""
    users = [m for m in messages if m["role"] == "user"]
    if not users:
        return []
    content = users[-1]["content"]
    if isinstance(content, str):
        return [quoted(content)]
    return [
        quoted(part["text"])
        if part["type"] == "text"
        else describe_image_url(part["image_url"]["url"])
        for part in content
    ]


def cut_to(text: str, tokens: int | None) -> str:
    """The server's budget: at most `tokens` words, each with the whitespace before it."""
    pieces = re.findall(r"\s*\S+", text)
    return text if tokens is None or len(pieces) <= tokens else "".join(pieces[:tokens])


def content_of(route: str, response: httpx.Response) -> str:
    assert response.status_code == 200, f"{route}: {response.status_code} {response.text[:500]}"
    body = response.json()
    if route == OPENAI_ROUTE:
        return str(body["choices"][0]["message"]["content"])
    assert body["error"] is None
    return str(body["output"]["content"])


def budget(body: dict[str, Any]) -> int | None:
    tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    found = tokens or body.get("params", {}).get("max_new_tokens")
    return None if found is None else int(found)


@MANY
@given(case=valid_requests())
def test_valid_messages_get_each_part_of_the_last_user_turn_described_in_order(
    client: httpx.Client, case: tuple[str, dict[str, Any], list[dict[str, Any]]]
) -> None:
    route, body, messages = case
    described = expected_descriptions(messages)
    event(
        "inline image described"
        if any(d.startswith("image ") and "URL" not in d for d in described)
        else "no inline image"
    )
    content = content_of(route, post(client, route, dumps(body)))
    full = "; ".join(described) or "empty message"
    assert content == cut_to(full, budget(body))
    if budget(body) is None and described and not any("; " in d for d in described):
        assert len(content.split("; ")) == len(described)  # one description a part


# --- streams --------------------------------------------------------------------------------------


def sse_pieces(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The content pieces and every chunk of an OpenAI SSE body, up to `data: [DONE]`."""
    pieces: list[str] = []
    chunks: list[dict[str, Any]] = []
    done = False
    for block in text.split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        if data == "[DONE]":
            done = True
            break
        chunk = json.loads(data)
        chunks.append(chunk)
        content = chunk["choices"][0]["delta"].get("content")
        if content:
            pieces.append(content)
    assert done, "the stream did not end with data: [DONE]"
    return pieces, chunks


@SOME
@given(case=valid_requests(), include_usage=st.booleans())
def test_stream_pieces_join_to_the_plain_reply(
    client: httpx.Client,
    case: tuple[str, dict[str, Any], list[dict[str, Any]]],
    include_usage: bool,
) -> None:
    route, body, _ = case
    plain = post(client, route, dumps(body))
    content = content_of(route, plain)
    streamed = {**body, "stream": True}
    if route == OPENAI_ROUTE and include_usage:
        streamed["stream_options"] = {"include_usage": True}
    response = post(client, route, dumps(streamed))
    assert response.status_code == 200, response.text[:500]
    if route == BYTEZ_ROUTE:
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == content
        return
    assert response.headers["content-type"].startswith("text/event-stream")
    pieces, chunks = sse_pieces(response.text)
    assert "".join(pieces) == content
    reply = plain.json()
    assert chunks[-1]["choices"][0]["finish_reason"] == reply["choices"][0]["finish_reason"]
    if include_usage:
        assert chunks[-1]["usage"] == reply["usage"]
