"""Wire formats: one module each, registered by name. Nothing outside this package knows a
provider's message shape."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mmkit.formats.base import Target, WireFormat
from mmkit.formats.registry import get, names, register
from mmkit.message import Message

MessagesLike = Iterable[Message | Mapping[str, Any]] | Message


def to_openai(messages: MessagesLike, **options: Any) -> list[dict[str, Any]]:
    """Messages as OpenAI chat parts, ready for the openai SDK, LiteLLM, vLLM, ..."""
    return get("openai").encode(messages, **options)


def to_bytez(messages: MessagesLike, **options: Any) -> list[dict[str, Any]]:
    """Messages as Bytez native parts (`url` or `base64` data-URI fields)."""
    return get("bytez").encode(messages, **options)


def to_hf(messages: MessagesLike, **options: Any) -> list[dict[str, Any]]:
    """Messages as Hugging Face chat-template parts."""
    return get("hf").encode(messages, **options)


def from_openai(items: Iterable[Mapping[str, Any]], *, local_files: bool = False) -> list[Message]:
    """OpenAI message dicts as Messages; `local_files=True` lets trusted dicts name local files."""
    return get("openai").parse(items, local_files=local_files)


def from_bytez(items: Iterable[Mapping[str, Any]], *, local_files: bool = False) -> list[Message]:
    """Bytez message dicts as Messages; `local_files=True` lets trusted dicts name local files."""
    return get("bytez").parse(items, local_files=local_files)


def from_hf(items: Iterable[Mapping[str, Any]], *, local_files: bool = False) -> list[Message]:
    """HF chat-template dicts as Messages; `local_files=True` lets trusted dicts name files."""
    return get("hf").parse(items, local_files=local_files)


# Each built-in format registers itself when its module is imported (like Pillow's plugins).
from mmkit.formats import bytez, hf, openai  # noqa: E402, F401

__all__ = [
    "Target",
    "WireFormat",
    "from_bytez",
    "from_hf",
    "from_openai",
    "get",
    "names",
    "register",
    "to_bytez",
    "to_hf",
    "to_openai",
]
