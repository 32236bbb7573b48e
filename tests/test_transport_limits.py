"""The pieces that hold the limits, on their own: the bounded body decoder, the key scrubber and
its log filter, the SSE line cap, the response cap option. (Against real hostile servers:
tests/test_hostile_servers.py.)"""

from __future__ import annotations

import base64
import gzip
import logging
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.errors import InvalidOptionError, TransportError
from mmkit.net.body import BodyTooLarge, BoundedDecoder, CorruptBody, UnsupportedEncoding
from mmkit.transport import AsyncClient, Client, Secret
from mmkit.transport.secret import ScrubKeys, guard_logs
from mmkit.transport.sse import LineTooLongError, SSEDecoder

# --- the bounded decoder --------------------------------------------------------------------------


def _encode(data: bytes, layer: str) -> bytes:
    if layer == "gzip":
        return gzip.compress(data)
    if layer == "deflate":
        return zlib.compress(data)
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)  # "deflate" sent without header
    return raw.compress(data) + raw.flush()


def _decode(decoder: BoundedDecoder, body: bytes, step: int) -> bytes:
    out = b""
    for start in range(0, len(body), step):
        out += b"".join(decoder.feed(body[start : start + step]))
    return out + b"".join(decoder.end())


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=3000) | st.builds(lambda n: b"ab" * n, st.integers(0, 200_000)),
    layers=st.lists(st.sampled_from(["gzip", "deflate", "raw-deflate"]), max_size=3),
    step=st.integers(1, 5000),
)
def test_any_encoding_chain_decodes_to_the_original(
    data: bytes, layers: list[str], step: int
) -> None:
    body = data
    for layer in layers:  # applied in order; the header lists them in that order
        body = _encode(body, layer)
    header = ", ".join("deflate" if layer == "raw-deflate" else layer for layer in layers)
    assert _decode(BoundedDecoder(header, len(data)), body, step) == data
    if data:
        with pytest.raises(BodyTooLarge):
            _decode(BoundedDecoder(header, len(data) - 1), body, step)


def test_a_stacked_gzip_bomb_stops_at_the_cap_having_decoded_little_more() -> None:
    zeros = zlib.compressobj(1, zlib.DEFLATED, 31)
    inner = b"".join(zeros.compress(b"\0" * (1 << 24)) for _ in range(8)) + zeros.flush()
    body = gzip.compress(inner)  # 128 MiB of zeros in a few KB
    assert len(body) < 10_000
    decoder = BoundedDecoder("gzip, gzip", 1 << 20)
    with pytest.raises(BodyTooLarge):
        _decode(decoder, body, 1000)
    assert decoder.decoded <= (1 << 20) + 64 * 1024  # the cap plus one step, never the bomb


@pytest.mark.parametrize("header", ["br", "zstd", "gzip, compress", "gzip, gzip, gzip, gzip"])
def test_encodings_it_cannot_bound_are_refused(header: str) -> None:
    with pytest.raises(UnsupportedEncoding):
        BoundedDecoder(header, 100)


@settings(max_examples=40, deadline=None)
@given(junk=st.binary(min_size=1, max_size=200))
def test_corrupt_gzip_is_a_corrupt_body(junk: bytes) -> None:
    body = b"\x1f\x8b\x08\x00" + junk  # a gzip header, then anything
    with pytest.raises((CorruptBody, BodyTooLarge)):
        _decode(BoundedDecoder("gzip", 10), b"\x00" + body, 7)


# --- the key scrubber -----------------------------------------------------------------------

KEYS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=48)


@settings(max_examples=100, deadline=None)
@given(key=KEYS, before=st.text(max_size=20), after=st.text(max_size=20))
def test_every_form_of_the_key_is_masked(key: str, before: str, after: str) -> None:
    secret = Secret(key)
    forms = [
        key,
        key.upper(),
        key.lower(),
        quote(key, safe=""),
        quote(key, safe="").lower(),
        base64.b64encode(key.encode()).decode(),
        base64.urlsafe_b64encode(key.encode()).decode(),
    ]
    for form in forms:
        assert form not in secret.scrub(before + form + after).replace("****", "\0")
    for prefix in ("user:", "Key ", "Bearer ", "x"):
        encoded = base64.b64encode((prefix + key).encode()).decode()
        scrubbed = secret.scrub(encoded)
        assert "****" in scrubbed
        # what is left is at most the 3 characters each side that mix the key with its neighbours
        assert len(scrubbed.replace("****", "")) <= len(encoded) - len(key) * 4 // 3 + 6


def test_the_scrubber_leaves_other_text_alone() -> None:
    assert Secret("sk-1234567890").scrub("nothing secret here") == "nothing secret here"


def test_a_log_record_carrying_the_key_is_scrubbed_on_httpcore_loggers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = Secret("sk-log-test-KEY-987")
    guard_logs(key)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpcore.http11").debug(
            "headers=%r", [(b"x-echo", b"sk-log-test-KEY-987")]
        )
        logging.getLogger("httpx").info("HTTP Request: %s", "SK-LOG-TEST-KEY-987")
    shown = "\n".join(r.getMessage() for r in caplog.records)
    assert "sk-log-test-KEY-987".lower() not in shown.lower() and shown.count("****") == 2
    assert any(isinstance(f, ScrubKeys) for f in logging.getLogger("httpcore.http11").filters)


# --- the SSE line cap -----------------------------------------------------------------------------


def test_a_line_without_an_end_is_refused_at_the_cap() -> None:
    decoder = SSEDecoder(max_line=1000)
    decoder.feed("data: ")
    for _ in range(9):
        assert decoder.feed("x" * 100) == []
    with pytest.raises(LineTooLongError):
        decoder.feed("x" * 100)


def test_many_data_lines_cannot_make_an_unbounded_event() -> None:
    decoder = SSEDecoder(max_line=1000)
    with pytest.raises(LineTooLongError):
        for _ in range(100):
            decoder.feed("data: " + "x" * 50 + "\n")


def test_a_line_split_over_many_chunks_still_decodes() -> None:
    decoder = SSEDecoder(max_line=1000)
    pieces = [decoder.feed(c) for c in ["da", "ta: hel", "lo", "\r", "\n", "\n"]]
    assert [p for p in pieces if p] == [["hello"]]


# --- the response cap option ----------------------------------------------------------------


def _answer(size: int) -> httpx.MockTransport:
    text = "y" * size
    body = {"choices": [{"message": {"content": text}, "finish_reason": "stop"}]}
    return httpx.MockTransport(lambda request: httpx.Response(200, json=body))


def test_a_reply_over_the_cap_is_refused_and_the_cap_is_settable_per_call() -> None:
    with Client("m", base_url="http://x.test/v1", transport=_answer(5000)) as client:
        with pytest.raises(TransportError, match="over the 1000-byte cap"):
            client.chat("hi", max_response_bytes=1000)
        assert client.chat("hi").text == "y" * 5000  # the default is generous
    with (
        Client(
            "m", base_url="http://x.test/v1", transport=_answer(5000), max_response_bytes=2000
        ) as client,
        pytest.raises(TransportError, match="over the 2000-byte cap"),
    ):
        client.chat("hi")


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", True])
def test_a_bad_response_cap_is_an_option_error(bad: object) -> None:
    with pytest.raises(InvalidOptionError, match="max_response_bytes"):
        Client("m", base_url="http://x.test/v1", max_response_bytes=bad)  # type: ignore[arg-type]


def test_an_equal_key_dying_does_not_stop_the_scrubbing_of_a_live_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gc

    first = Secret("sk-twice-KEY-4242")
    guard_logs(first)
    second = Secret("sk-twice-KEY-4242")  # equal to the first, as two clients' keys are
    guard_logs(second)
    del first
    gc.collect()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpcore.http11").debug("echo %s", "sk-twice-KEY-4242")
    assert caplog.records[-1].getMessage() == "echo ****"
    assert second.reveal() == "sk-twice-KEY-4242"  # still alive here


# --- performance paths: encoding off the event loop, dicts remembered -------------------------


def _threads_building_bodies(
    monkeypatch: pytest.MonkeyPatch, calls: list[Any], streamed: frozenset[int] = frozenset()
) -> list[str]:
    """The thread each AsyncClient body build ran in (a tried and abandoned one included), for
    `chat(messages)` per call (`stream(messages)` for the indices in `streamed`)."""
    import asyncio
    import threading

    import mmkit.transport.client as client_module
    from mmkit.transport.prepared import build_body as real

    threads: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> bytes:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(client_module, "build_body", recording)
    answer = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))

    async def main() -> None:
        async with AsyncClient("m", base_url="http://x.test/v1", transport=transport) as c:
            for index, messages in enumerate(calls):
                if index in streamed:
                    async for _ in c.stream(messages):
                        pass
                else:
                    await c.chat(messages)

    asyncio.run(main())
    return threads


def test_the_async_client_encodes_media_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path
) -> None:
    import threading

    from mmkit import Message

    photo = [Message.user("hi", image=fixtures_dir / "photo.jpg")]
    other = [Message.user("hi", image=fixtures_dir / "rgba.png")]
    bare = "a bare prompt: nothing to encode"
    # photo, then other streamed, the bare prompt, and photo again (encoded for this target)
    threads = _threads_building_bodies(monkeypatch, [photo, other, bare, photo], frozenset({1}))
    loop_thread = threading.main_thread().name
    # the first try of each media call runs on the loop and stops before any work (the
    # part is not encoded yet); the build that encodes runs in an encoder thread
    assert threads[0] == loop_thread and threads[1].startswith("mmkit-encode"), threads
    assert threads[2] == loop_thread and threads[3].startswith("mmkit-encode"), threads
    # a bare prompt, or parts encoded before, are not worth a thread hop: built on the loop
    assert threads[4:] == [loop_thread, loop_thread], threads


def test_dicts_remembered_from_an_earlier_call_are_built_on_the_loop(
    monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path
) -> None:
    from mmkit.formats import memo

    memo.forget()
    dicts = _photo_dicts(fixtures_dir)
    threads = _threads_building_bodies(monkeypatch, [dicts, dicts])
    loop = "MainThread"
    assert threads[0] == loop and threads[1].startswith("mmkit-encode"), threads
    assert threads[2:] == [loop], threads


def test_a_body_carrying_megabytes_is_built_in_a_thread_even_when_encoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    import numpy as np
    from PIL import Image as PILImage

    from mmkit import Image, Message

    noise = np.random.default_rng(3).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(noise).save(buffer, "PNG")
    assert len(buffer.getvalue()) > 1.5 * 1024 * 1024  # base64 and JSON of it: real work
    message = [Message.user("hi", image=Image(buffer.getvalue()))]
    threads = _threads_building_bodies(monkeypatch, [message, message])
    # both calls: tried on the loop, stopped before copying megabytes, built in a thread
    assert [name.startswith("mmkit-encode") for name in threads] == [False, True, False, True]


def test_a_build_retried_in_a_thread_keeps_every_parameter(fixtures_dir: Path) -> None:
    import asyncio
    import json

    from mmkit import Message

    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        reply = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
        return httpx.Response(200, json=reply)

    async def main() -> None:
        transport = httpx.MockTransport(answer)
        async with AsyncClient("m", base_url="http://x.test/v1", transport=transport) as c:
            photo = [Message.user("hi", image=fixtures_dir / "photo.jpg")]
            await c.chat(photo, max_tokens=5, extra_body={"guided_choice": ["yes", "no"]})

    asyncio.run(main())
    (body,) = bodies
    assert (body["max_tokens"], body["guided_choice"]) == (5, ["yes", "no"])
    assert body["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/jpeg")


def _photo_dicts(fixtures_dir: Path) -> list[dict[str, Any]]:
    data = base64.b64encode((fixtures_dir / "photo.jpg").read_bytes()).decode()
    url = f"data:image/jpeg;base64,{data}"
    content = [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": url}}]
    return [{"role": "user", "content": content}]


def test_dicts_with_a_data_uri_are_validated_once_and_reused(fixtures_dir: Path) -> None:
    import mmkit
    from mmkit.formats import memo

    memo.forget()
    dicts = _photo_dicts(fixtures_dir)
    first = mmkit.to_openai(dicts)
    assert len(memo._entries) == 1
    again = mmkit.to_openai(_photo_dicts(fixtures_dir))  # equal dicts, new objects
    assert again == first and len(memo._entries) == 1
    # from_openai hands out parts of the caller's own: never shared
    a, b = mmkit.from_openai(dicts), mmkit.from_openai(dicts)
    assert a[0].content[1] is not b[0].content[1]


def test_a_bad_data_uri_is_refused_every_time(fixtures_dir: Path) -> None:
    import mmkit
    from mmkit.errors import MmkitError
    from mmkit.formats import memo

    memo.forget()
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,bm9wZQ=="}}
    bad = [{"role": "user", "content": [part]}]
    for _ in range(2):
        with pytest.raises(MmkitError):
            mmkit.to_openai(bad)
    assert len(memo._entries) == 0


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from mmkit.formats import memo

    memo.forget()
    monkeypatch.setattr(memo, "MAX_ENTRIES", 3)
    for n in range(10):
        memo.remembered(f"data:x;base64,{n}", (), lambda: object())
    assert len(memo._entries) == 3
    monkeypatch.setattr(memo, "MAX_BYTES", 40)
    memo.remembered("data:" + "y" * 30, (), lambda: object())
    assert sum(size for _, size in memo._entries.values()) <= 40
    made = []
    memo.remembered("https://example.com/a.png", (), lambda: made.append(1))  # URLs: never kept
    memo.remembered("https://example.com/a.png", (), lambda: made.append(1))
    assert made == [1, 1]
    memo.forget()


def test_a_detail_that_is_not_a_string_is_still_an_mmkit_error(fixtures_dir: Path) -> None:
    import mmkit
    from mmkit.errors import MmkitError

    dicts = _photo_dicts(fixtures_dir)
    dicts[0]["content"][1]["image_url"]["detail"] = []
    with pytest.raises(MmkitError):
        mmkit.to_openai(dicts)


def test_cached_only_stops_before_work_and_before_copying_megabytes() -> None:
    from mmkit.formats import memo
    from mmkit.formats.base import data_uri
    from mmkit.offload import WouldBlock, cached_only, needs_work

    needs_work()  # outside the block: nothing to stop
    made: list[str] = []

    def make() -> str:
        made.append("made")
        return "part"

    big = "data:image/png;base64," + "A" * (1024 * 1024 + 4)
    with cached_only():
        with pytest.raises(WouldBlock):
            needs_work()
        with pytest.raises(WouldBlock):  # hashing a big URI is work too: stopped before it
            memo.remembered(big, ("image",), make)
        assert made == []
    with cached_only():
        data_uri("image/png", b"x" * (600 * 1024))
        with pytest.raises(WouldBlock):  # the budget is per build, summed over parts
            data_uri("image/png", b"x" * (600 * 1024))
    assert isinstance(WouldBlock(), BaseException) and not isinstance(WouldBlock(), Exception)


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The async pool asks each idle connection whether it is readable (a server that hung up
    makes it so) before reusing it; mmkit answers that from the socket it looked up once."""
    import asyncio
    import socket
    import threading

    from helpers import wait_until

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    reply = b'{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}'
    answered: list[int] = []

    def serve() -> None:  # one request per connection, then a hang-up with no Connection: close
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(reply)}\r\n\r\n".encode()
                    + reply
                )
            answered.append(1)  # after the hang-up: on loopback the FIN is there at once

    server = threading.Thread(target=serve, daemon=True)
    server.start()

    async def main() -> list[str]:
        base = f"http://127.0.0.1:{port}/v1"
        async with AsyncClient("m", base_url=base, max_retries=0) as client:
            first = (await client.chat("one")).text
            assert wait_until(lambda: len(answered) == 1)
            second = (await client.chat("two")).text  # a dead connection reused would fail
            return [first, second]

    try:
        assert asyncio.run(main()) == ["ok", "ok"]
    finally:
        listener.close()
    server.join(5)
