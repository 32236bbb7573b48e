"""Message dicts sent again are not parsed, encoded or serialized again: their JSON is remembered
by content. What reaches the server is byte for byte what building the body whole sends (the
expected bodies below were recorded from the build before the memo), and a dict changed in any
way is built again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from recording_server import Answer, RecordingServer, recording_server

from mmkit.errors import MmkitError
from mmkit.formats import memo
from mmkit.formats.base import WireFormat
from mmkit.formats.openai import OpenAIFormat
from mmkit.transport import Client

# A 4×4 red PNG, as a caller's data URI
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAFElEQVR4nGM8ISfHAAN"
    "MDEgANwcANHYBDK9qubUAAAAASUVORK5CYII="
)
# One answer both wire shapes read: OpenAI's choices, Bytez's output
ANSWER = Answer(200, {"choices": [{"message": {"content": "ok"}}], "output": "ok"})

OPENAI_BODY = (
    b'{"model":"gemma-3","messages":[{"role":"system","content":"Be brief, caf\\u00e9."},'
    b'{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url",'
    b'"image_url":{"url":"' + PNG.encode() + b'","detail":"low"}}],"name":"ann","weight":1.0}],'
    b'"max_tokens":5,"temperature":0.5,"top_k":3}'
)
BYTEZ_BODY = (
    b'{"messages":[{"role":"system","content":"Be brief, caf\\u00e9."},{"role":"user",'
    b'"content":[{"type":"text","text":"What is this?"},{"type":"image","base64":"'
    + PNG.encode()
    + b'"}],"name":"ann","weight":1.0}],"stream":false,"params":{"max_new_tokens":5,'
    b'"temperature":0.5},"top_k":3}'
)


def conversation(weight: Any = 1.0) -> list[dict[str, Any]]:
    photo = {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}}
    return [
        {"role": "system", "content": "Be brief, café."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is this?"}, photo],
            "name": "ann",
            "weight": weight,
        },
    ]


pytestmark = pytest.mark.usefixtures("fresh_memo")


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with recording_server([ANSWER]) as running:
        yield running


def counted_encodes(monkeypatch: pytest.MonkeyPatch, wire: type[WireFormat]) -> list[str]:
    """The type of every part `wire` encodes from now on, in order."""
    seen: list[str] = []
    original = wire.encode_part

    def counted(self: WireFormat, part: Any, context: Any) -> Any:
        seen.append(type(part).__name__)
        return original(self, part, context)

    monkeypatch.setattr(wire, "encode_part", counted)
    return seen


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The type of every part encoded for an OpenAI-shaped body, in order."""
    return counted_encodes(monkeypatch, OpenAIFormat)


def sent(server: RecordingServer) -> list[bytes]:
    return [request.raw for request in server.requests]


def test_equal_dicts_send_the_same_bytes_and_are_encoded_once(
    server: RecordingServer, encodes: list[str]
) -> None:
    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        for _ in range(3):  # the same dicts, then new dicts of the same content
            dicts = conversation()
            client.chat(dicts, max_tokens=5, temperature=0.5, extra_body={"top_k": 3})
    assert sent(server) == [OPENAI_BODY] * 3
    assert encodes == ["Text", "Text", "Image"]  # the first call only


def test_a_bytez_body_is_the_same_bytes_every_time(server: RecordingServer) -> None:
    with Client("bytez/org/tiny", base_url=server.url) as client:
        for _ in range(2):
            client.chat(conversation(), max_tokens=5, temperature=0.5, extra_body={"top_k": 3})
    assert sent(server) == [BYTEZ_BODY] * 2
    assert server.requests[0].path == "/models/v2/org/tiny"


def test_the_same_dicts_to_another_wire_shape_are_not_shared(server: RecordingServer) -> None:
    params: dict[str, Any] = {"max_tokens": 5, "temperature": 0.5, "extra_body": {"top_k": 3}}
    with (
        Client("gemma-3", base_url=f"{server.url}/v1") as openai,
        Client("bytez/org/tiny", base_url=server.url) as bytez,
    ):
        openai.chat(conversation(), **params)
        bytez.chat(conversation(), **params)
        openai.chat(conversation(), **params)
    assert sent(server) == [OPENAI_BODY, BYTEZ_BODY, OPENAI_BODY]


def test_parameters_and_streaming_are_applied_on_every_call(server: RecordingServer) -> None:
    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        client.chat(conversation(), max_tokens=5, temperature=0.5, extra_body={"top_k": 3})
        client.chat(conversation(), max_tokens=9)
    tail = b'"name":"ann","weight":1.0}]'
    assert sent(server)[1] == OPENAI_BODY.split(tail)[0] + tail + b',"max_tokens":9}'


def test_a_dict_changed_in_place_is_built_again(
    server: RecordingServer, encodes: list[str]
) -> None:
    dicts = [{"role": "user", "content": [{"type": "text", "text": "first"}]}]
    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        client.chat(dicts)
        dicts[0]["content"][0]["text"] = "second"  # type: ignore[index]
        client.chat(dicts)
        dicts.append({"role": "assistant", "content": "third"})
        client.chat(dicts)
    assert sent(server) == [
        b'{"model":"gemma-3","messages":[{"role":"user","content":"first"}]}',
        b'{"model":"gemma-3","messages":[{"role":"user","content":"second"}]}',
        b'{"model":"gemma-3","messages":[{"role":"user","content":"second"},'
        b'{"role":"assistant","content":"third"}]}',
    ]
    # the third call encodes only the message it added: the first was built by the second
    assert encodes == ["Text", "Text", "Text"]


def test_values_equal_in_python_never_share_a_body(server: RecordingServer) -> None:
    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        for weight in (1, True, 1.0, 1):  # equal, and equal hashes, in Python
            client.chat([{"role": "user", "content": "hi", "weight": weight}])
    head = b'{"model":"gemma-3","messages":[{"role":"user","content":"hi","weight":'
    assert sent(server) == [head + value + b"}]}" for value in (b"1", b"true", b"1.0", b"1")]


def test_a_list_the_caller_changes_later_is_sent_as_it_is_now(server: RecordingServer) -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    turn = {"role": "assistant", "content": None, "tool_calls": calls}
    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        client.chat([turn])
        calls[0]["function"]["name"] = "g"  # type: ignore[index]
        client.chat([turn])
    head = b'{"model":"gemma-3","messages":[{"role":"assistant","content":null,"tool_calls":'
    assert sent(server) == [
        head + b'[{"id":"c1","type":"function","function":{"name":"' + name + b'",'
        b'"arguments":"{}"}}]}]}'
        for name in (b"f", b"g")
    ]


def test_extra_body_replacing_the_messages_still_wins(server: RecordingServer) -> None:
    replaced = {"messages": [{"role": "user", "content": "replaced"}]}
    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        for _ in range(2):
            client.chat([{"role": "user", "content": "hi"}], extra_body=replaced)
    expected = b'{"model":"gemma-3","messages":[{"role":"user","content":"replaced"}]}'
    assert sent(server) == [expected, expected]


def test_a_bad_dict_is_refused_every_time_and_never_remembered(server: RecordingServer) -> None:
    bad = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 3}}]}]
    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        for _ in range(2):
            with pytest.raises(MmkitError, match="image_url needs a 'url' string"):
                client.chat(bad)
    assert sent(server) == [] and len(memo._json) == 0


def test_the_remembered_json_is_bounded(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memo, "MAX_ENTRIES", 3)
    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        for n in range(6):
            client.chat([{"role": "user", "content": f"question {n}"}])
        assert len(memo._json) == 3
        # each entry: its key's strings (14 characters) and its JSON (40 bytes)
        monkeypatch.setattr(memo, "MAX_BYTES", 120)
        client.chat([{"role": "user", "content": "question 6"}])
        assert len(memo._json) == 2
        client.chat([{"role": "user", "content": "y" * 80}])  # with its JSON: over, not kept
        assert len(memo._json) == 2
    assert sent(server)[-1] == (
        b'{"model":"gemma-3","messages":[{"role":"user","content":"' + b"y" * 80 + b'"}]}'
    )


def test_remembered_images_still_count_towards_the_request_cap(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from mmkit.errors import MediaTooLargeError

    # the 4×4 PNG is 77 bytes: one fits a 100-byte request cap, two do not
    monkeypatch.setattr(
        OpenAIFormat, "target", replace(OpenAIFormat.target, max_request_image_bytes=100)
    )

    def turn(text: str) -> dict[str, Any]:
        photo = {"type": "image_url", "image_url": {"url": PNG}}
        return {"role": "user", "content": [{"type": "text", "text": text}, photo]}

    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        client.chat([turn("one")])
        client.chat([turn("two")])
        for _ in range(2):  # both remembered now, and refused together every time
            with pytest.raises(
                MediaTooLargeError, match=r"message 2, part 2.* add up to 154 bytes"
            ):
                client.chat([turn("one"), turn("two")])
    assert len(server.requests) == 2


def test_a_target_set_in_place_of_the_old_one_encodes_again(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import io
    from dataclasses import replace

    from PIL import Image as PILImage

    def photo() -> list[dict[str, Any]]:
        return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}]

    with Client("gemma-3", base_url=f"{server.url}/v1") as client:
        client.chat(photo())
        smaller = replace(OpenAIFormat.target.images, max_side=2)
        monkeypatch.setattr(OpenAIFormat, "target", replace(OpenAIFormat.target, images=smaller))
        client.chat(photo())
    first, second = (
        r.json["messages"][0]["content"][0]["image_url"]["url"] for r in server.requests
    )
    assert first == PNG
    data = base64.b64decode(second.split(",", 1)[1])
    assert PILImage.open(io.BytesIO(data)).size == (2, 2)


def test_a_model_with_an_image_rule_reuses_its_remembered_json(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmkit.formats.bytez import BytezFormat

    seen = counted_encodes(monkeypatch, BytezFormat)
    with Client("bytez/google/gemma-3-4b-it", base_url=server.url) as client:
        assert client.media_model == "google/gemma-3-4b-it"  # images sized for its processor
        for _ in range(2):
            client.chat(conversation())
    assert seen == ["Text", "Text", "Image"]  # the first call only
    first, second = sent(server)
    assert first == second and b'"base64":"data:image/' in first
