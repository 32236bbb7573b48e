"""Hugging Face chat-template parts, for `processor.apply_chat_template`.

`{"type":"image","url":…}` for URLs (transformers fetches them), `{"type":"image","base64":…}`
for inline images (a data URI, which transformers' `load_image` reads), and text parts. Content
is always a list: processors' templates iterate over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmkit.errors import InvalidOptionError, UnsupportedFormatError
from mmkit.formats import register
from mmkit.formats.base import EncodeContext, Json, Target, WireFormat, parse_text
from mmkit.media.image import ImageLimits
from mmkit.message import Message
from mmkit.parts import Image, Part, Text

# Pillow decodes on the receiving side: more types pass as they are, with no byte limit.
TARGET = Target(
    images=ImageLimits(
        mimes=frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp",
                         "image/tiff"}),
        animation=False,
        max_bytes=None,
    ),
    fetches_urls=True,
)


class HFFormat(WireFormat):
    name = "hf"
    target = TARGET

    def encode_part(self, part: Part, context: EncodeContext) -> Json:
        if isinstance(part, Text):
            return {"type": "text", "text": part.text}
        if isinstance(part, Image):
            how, value = context.image_source(part)
            return {"type": "image", "url" if how == "url" else "base64": value}
        raise UnsupportedFormatError(f"HF chat templates cannot carry a {type(part).__name__}")

    def wrap_message(self, message: Message, parts: list[Json]) -> Json:
        out: Json = {"role": message.role, "content": parts}
        if message.name is not None:
            out["name"] = message.name
        out.update(message.extra)
        return out

    def parse_part(self, part: Mapping[str, Any], where: str) -> Part:
        kind = part.get("type")
        if kind == "text":
            return parse_text(part.get("text"), where)
        if kind == "image":
            for key in ("url", "base64", "path", "image"):
                value = part.get(key)
                if value is not None:
                    return Image(value)
            raise InvalidOptionError(
                f"{where}: an image part needs 'url', 'base64', 'path' or 'image'"
            )
        raise UnsupportedFormatError(
            f"{where} has type {kind!r}, which mmkit cannot carry yet; known types are "
            "'text' and 'image'"
        )


register(HFFormat())
