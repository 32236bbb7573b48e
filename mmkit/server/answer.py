"""The deterministic reply: what the server saw, cut to the token budget, in word pieces."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A word with the whitespace before it: the pieces join back to the exact text.
_PIECE = re.compile(r"\s*\S+")
# Characters shown of a text part; a longer one is cut with a marker (…).
TEXT_PREVIEW_CHARS = 40
EMPTY_REPLY = "empty message"


@dataclass(frozen=True)
class Answer:
    text: str
    pieces: tuple[str, ...]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def describe_text(text: str) -> str:
    """The text as the answer quotes it: its first characters, and "…" when there are more
    (a silent cut reads as if the server had received less)."""
    if len(text) <= TEXT_PREVIEW_CHARS:
        return f'text "{text}"'
    return f'text "{text[:TEXT_PREVIEW_CHARS]}…"'


def make_answer(descriptions: list[str], prompt_tokens: int, max_tokens: int | None) -> Answer:
    """ "; ".join of the descriptions, cut to `max_tokens` words (finish_reason "length")."""
    text = "; ".join(descriptions) or EMPTY_REPLY
    pieces = _PIECE.findall(text)
    finish = "stop"
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces = pieces[:max_tokens]
        text = "".join(pieces)
        finish = "length"
    return Answer(text, tuple(pieces), finish, prompt_tokens, len(pieces))
