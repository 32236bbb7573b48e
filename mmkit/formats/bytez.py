"""Bytez native parts: `{"type":"image","url":…}` or `{"type":"image","base64":"data:…"}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmkit.errors import InvalidOptionError, UnsupportedFormatError
from mmkit.formats import register
from mmkit.formats.base import (
    EncodeContext,
    Json,
    Target,
    WireFormat,
    parse_text,
)
from mmkit.media.image import ImageLimits
from mmkit.parts import Image, Part, Text

# Bytez runs Hugging Face processors (Pillow decodes); its size limits are not published.
TARGET = Target(
    images=ImageLimits(
        mimes=frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"}),
        animation=False,
        max_bytes=20 * 1024 * 1024,
    ),
    fetches_urls=True,
)

class BytezFormat(WireFormat):
    name = "bytez"
    target = TARGET

    def encode_part(self, part: Part, context: EncodeContext) -> Json:
        if isinstance(part, Text):
            return {"type": "text", "text": part.text}
        if isinstance(part, Image):
            how, value = context.image_source(part)
            return {"type": "image", "url" if how == "url" else "base64": value}
        raise UnsupportedFormatError(f"Bytez parts cannot carry a {type(part).__name__}")

    def parse_part(self, part: Mapping[str, Any], where: str) -> Part:
        kind = part.get("type")
        if kind == "text":
            return parse_text(part.get("text"), where)
        if kind == "image":
            for key in ("url", "base64"):
                value = part.get(key)
                if isinstance(value, str):
                    return Image(value)
            raise InvalidOptionError(f"{where}: an image part needs a 'url' or 'base64' string")
        raise UnsupportedFormatError(
            f"{where} has type {kind!r}, which mmkit cannot carry yet; known types are "
            "'text' and 'image'"
        )


register(BytezFormat())
