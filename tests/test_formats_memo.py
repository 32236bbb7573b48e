"""Message dicts on the way out are parsed once and remembered by their content: an equal dict
reuses the parsed message, a changed one (in place or new) is parsed again."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image as PILImage

import mmkit
from mmkit.errors import MmkitError
from mmkit.formats import memo
from mmkit.formats.openai import OpenAIFormat


def _png_uri() -> str:
    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 4), (200, 30, 30)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


PNG_4X4 = _png_uri()


pytestmark = pytest.mark.usefixtures("fresh_memo")


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The roles of the message dicts parsed, in order."""
    seen: list[str] = []
    original = OpenAIFormat.parse_message

    def counted(self: OpenAIFormat, item: Any, context: Any = None) -> Any:
        seen.append(item.get("role"))
        return original(self, item, context)

    monkeypatch.setattr(OpenAIFormat, "parse_message", counted)
    return seen


def photo_turn(text: str = "what is this?") -> dict[str, Any]:
    content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": PNG_4X4}}]
    return {"role": "user", "content": content}


def test_an_equal_dict_is_parsed_once(parses: list[str]) -> None:
    first = mmkit.to_openai([{"role": "system", "content": "be brief"}, photo_turn()])
    again = mmkit.to_openai([{"role": "system", "content": "be brief"}, photo_turn()])  # new dicts
    assert again == first
    assert parses == ["system", "user"]
    assert first[1]["content"][0] == {"type": "text", "text": "what is this?"}


def test_a_dict_changed_in_place_is_parsed_again(parses: list[str]) -> None:
    turn = photo_turn()
    mmkit.to_openai([turn])
    turn["content"][0]["text"] = "and now?"
    (sent,) = mmkit.to_openai([turn])
    assert sent["content"][0] == {"type": "text", "text": "and now?"}
    turn["content"] = "plain text now"
    (sent,) = mmkit.to_openai([turn])
    assert sent == {"role": "user", "content": "plain text now"}
    assert parses == ["user", "user", "user"]


def test_values_equal_in_python_but_not_in_json_are_told_apart() -> None:
    sent = [
        mmkit.to_openai([{"role": "user", "content": "hi", "weight": value}])[0]
        for value in (1, True, 1.0, 1)
    ]
    assert [json.dumps(turn["weight"]) for turn in sent] == ["1", "true", "1.0", "1"]


def test_a_message_keeping_a_list_is_never_remembered(parses: list[str]) -> None:
    def turn(calls: list[dict[str, Any]]) -> dict[str, Any]:
        return {"role": "assistant", "content": None, "tool_calls": calls}

    def calls(name: str) -> list[dict[str, Any]]:
        return [{"id": "c1", "type": "function", "function": {"name": name, "arguments": "{}"}}]

    mine = calls("f")
    mmkit.to_openai([turn(mine)])
    mine[0]["function"]["name"] = "g"  # the list the first message kept, changed afterwards
    (sent,) = mmkit.to_openai([turn(calls("f"))])  # a new dict as the first one was
    assert sent["tool_calls"][0]["function"]["name"] == "f"
    assert parses == ["assistant", "assistant"]


def test_a_bad_dict_is_refused_every_time() -> None:
    bad = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 3}}]}]
    for _ in range(2):
        with pytest.raises(MmkitError, match="image_url needs a 'url' string"):
            mmkit.to_openai(bad)
    assert len(memo._messages) == 0


def test_the_remembered_messages_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "MAX_ENTRIES", 3)
    for n in range(10):
        mmkit.to_openai([{"role": "user", "content": f"question {n}"}])
    assert len(memo._messages) == 3
    monkeypatch.setattr(memo, "MAX_BYTES", 40)
    mmkit.to_openai([{"role": "user", "content": "y" * 30}])
    assert sum(size for _, size in memo._messages.values()) <= 40
