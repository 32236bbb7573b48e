"""OpenAI Chat Completions parts (also vLLM, LiteLLM, transformers serve and most local servers).

`{"type":"text","text":…}`, `{"type":"image_url","image_url":{"url":…,"detail":…}}`, and for
servers that read video (vLLM, LiteLLM, transformers serve) `{"type":"video_url","video_url":
{"url":…}}`. OpenAI's own API reads no video, so by default a video goes as sampled frames, each
an image after a text label ("frame at 0:03.2"); `to_openai(messages, video="native")` sends
`video_url` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmkit.errors import InvalidOptionError, UnsupportedFormatError
from mmkit.formats import register
from mmkit.formats.base import (
    EncodeContext,
    Json,
    ParseContext,
    Target,
    WireFormat,
    parse_text,
)
from mmkit.media.image import ImageLimits
from mmkit.media.video import VideoLimits
from mmkit.parts import Image, Part, Text, Video

# From OpenAI's vision guide (platform.openai.com/docs/guides/images-vision, "Calculating costs";
# as mirrored in shared/docs/wire-formats.md): settings, not constants.
# - types PNG, JPEG, WEBP, non-animated GIF; up to 20 MB an image, 50 MB of images a request;
# - every image is first scaled to fit within a 2048×2048 square (high and auto detail), so
#   larger sides are thrown away by the server: mmkit sends at most 2048 px a side;
# - detail="low" reads a 512×512 version: at most 512 px a side.
# (The later "shortest side 768" step is the tile models' token count, not a resize newer
# patch-based models share, so it is not applied.)
TARGET = Target(
    images=ImageLimits(
        mimes=frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"}),
        animation=False,
        max_bytes=20 * 1024 * 1024,
        max_side=2048,
    ),
    # OpenAI's own API reads no video: frames by default. OpenAI-compatible servers (vLLM,
    # LiteLLM, transformers serve) take `video_url`: encode with video="native" for them.
    videos=VideoLimits(native=False, max_frames=32),
    fetches_urls=True,
    max_request_image_bytes=50 * 1024 * 1024,
    detail_max_side={"low": 512},
)


def image_tokens(width: int, height: int, detail: str | None = None) -> int:
    """OpenAI's published estimate: 85 for low detail; else the image is fitted in 2048×2048,
    its short side cut to 768, and each 512-pixel tile costs 170 more."""
    if detail == "low":
        return 85
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tiles = -(-int(w) // 512) * -(-int(h) // 512)
    return 85 + 170 * tiles


class OpenAIFormat(WireFormat):
    name = "openai"
    target = TARGET

    def encode_part(self, part: Part, context: EncodeContext) -> Json | list[Json]:
        if isinstance(part, Text):
            return {"type": "text", "text": part.text}
        if isinstance(part, Video):
            how, value = context.video_source(part)
            if how != "frames":
                return {"type": "video_url", "video_url": {"url": value}}
            out: list[Json] = []
            for label, _, url in value:
                out.append({"type": "text", "text": label})
                out.append({"type": "image_url", "image_url": {"url": url}})
            return out
        if isinstance(part, Image):
            _, url = context.image_source(part)
            image_url: Json = {"url": url}
            if part.detail is not None:
                image_url["detail"] = part.detail
            return {"type": "image_url", "image_url": image_url}
        raise UnsupportedFormatError(f"OpenAI parts cannot carry a {type(part).__name__}")

    def parse_part(self, part: Mapping[str, Any], where: str, context: ParseContext) -> Part:
        kind = part.get("type")
        if kind == "text":
            return parse_text(part.get("text"), where)
        if kind == "image_url":
            image_url = part.get("image_url")
            if isinstance(image_url, str):  # an older, still common shorthand
                image_url = {"url": image_url}
            if not isinstance(image_url, Mapping) or not isinstance(image_url.get("url"), str):
                raise InvalidOptionError(f"{where}: image_url needs a 'url' string")
            source = context.source(image_url["url"], "image", where)
            return Image(source, detail=image_url.get("detail"))
        if kind == "video_url":
            video_url = part.get("video_url")
            if isinstance(video_url, str):
                video_url = {"url": video_url}
            if not isinstance(video_url, Mapping) or not isinstance(video_url.get("url"), str):
                raise InvalidOptionError(f"{where}: video_url needs a 'url' string")
            return Video(context.source(video_url["url"], "video", where))
        raise UnsupportedFormatError(
            f"{where} has type {kind!r}, which mmkit cannot carry yet; known types are "
            "'text', 'image_url' and 'video_url'"
        )


register(OpenAIFormat())
