"""The echo server's answer quotes a long prompt with a visible cut, never a silent one."""

from __future__ import annotations

import mmkit
from mmkit import Message
from mmkit.server import RunningServer


def _client(server: RunningServer) -> mmkit.Client:
    return mmkit.Client("echo", base_url=f"{server.base_url}/v1")


def test_a_prompt_longer_than_the_preview_is_marked_as_cut(server: RunningServer) -> None:
    prompt = "Describe this picture in great detail, please: colours, shapes and mood."
    with _client(server) as client:
        reply = client.chat([Message.user(prompt)])
    assert reply.text == 'text "Describe this picture in great detail, p…"'


def test_a_short_prompt_is_shown_whole_without_a_marker(server: RunningServer) -> None:
    with _client(server) as client:
        assert client.chat("What is in this picture?").text == 'text "What is in this picture?"'
        forty = "x" * 40  # exactly the preview: nothing is cut
        assert client.chat(forty).text == f'text "{forty}"'


def test_the_streamed_answer_carries_the_same_marker(server: RunningServer) -> None:
    with _client(server) as client:
        stream = client.stream("y" * 41)
        assert "".join(stream) == f'text "{"y" * 40}…"'
