"""OpenAI Chat Completions parts (also vLLM, LiteLLM, transformers serve and most local servers).

`{"type":"text","text":…}`, `{"type":"image_url","image_url":{"url":…,"detail":…}}`,
`{"type":"input_audio","input_audio":{"data":<raw base64>,"format":"wav"|"mp3"}}` (vLLM's
`{"type":"audio_url","audio_url":{"url":…}}` is read too), and for servers that read video
(vLLM, LiteLLM, transformers serve) `{"type":"video_url","video_url":{"url":…}}`. OpenAI's own
API reads no video, so by default a video goes as sampled frames, each an image after a text
label ("frame at 0:03.2"); `to_openai(messages, video="native")` sends `video_url` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pybase64

from mmkit.errors import InvalidOptionError, UnsupportedFormatError
from mmkit.formats.base import (
    EncodeContext,
    Json,
    ParseContext,
    Target,
    WireFormat,
    parse_text,
)
from mmkit.formats.memo import remembered
from mmkit.formats.registry import register
from mmkit.media.audio import AudioLimits
from mmkit.media.image import ImageLimits
from mmkit.media.sniff import normalize_mime
from mmkit.media.source import Resolved
from mmkit.media.video import VideoLimits
from mmkit.parts import Audio, Image, Part, Text, Video

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
    # input_audio takes "wav" or "mp3" only (a MIME type there is a 400, wire-formats.md §1):
    # plain 16-bit PCM WAV and MP3 pass as they are (WAVE_FORMAT_EXTENSIBLE and float WAVs are
    # rewritten as the WAV every decoder reads); the rest becomes WAV, or MP3 when WAV is over
    # the byte limit. 25 MB is OpenAI's audio upload limit (Whisper); keep it a setting.
    audio=AudioLimits(
        accepts=frozenset({"wav/pcm16", "mp3/mp3"}),
        writes=("wav", "mp3"),
        max_bytes=25 * 1024 * 1024,
    ),
    fetches_audio_urls=False,  # input_audio has no URL form: audio URLs are fetched and inlined
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
        if isinstance(part, Audio):
            sent = context.audio_source(part)
            if isinstance(sent, str):  # a target told to pass audio URLs: vLLM's audio_url
                return {"type": "audio_url", "audio_url": {"url": sent}}
            data = pybase64.b64encode(sent.data).decode("ascii")
            return {"type": "input_audio", "input_audio": {"data": data, "format": sent.format}}
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
            url, detail = image_url["url"], image_url.get("detail")

            def make() -> Image:
                return Image(context.source(url, "image", where), detail=detail)

            # validated once, reused by later calls (see memo); a bad detail fails in make()
            if context.remember and (detail is None or isinstance(detail, str)):
                return remembered(url, ("image", detail, context.local_files), make)
            return make()
        if kind == "video_url":
            video_url = part.get("video_url")
            if isinstance(video_url, str):
                video_url = {"url": video_url}
            if not isinstance(video_url, Mapping) or not isinstance(video_url.get("url"), str):
                raise InvalidOptionError(f"{where}: video_url needs a 'url' string")
            return Video(context.source(video_url["url"], "video", where))
        if kind == "input_audio":
            return _parse_input_audio(part.get("input_audio"), where, context)
        if kind == "audio_url":  # vLLM's extension
            audio_url = part.get("audio_url")
            if isinstance(audio_url, str):
                audio_url = {"url": audio_url}
            if not isinstance(audio_url, Mapping) or not isinstance(audio_url.get("url"), str):
                raise InvalidOptionError(f"{where}: audio_url needs a 'url' string")
            return Audio(context.source(audio_url["url"], "audio", where))
        raise UnsupportedFormatError(
            f"{where} has type {kind!r}, which mmkit cannot carry yet; known types are "
            "'text', 'image_url', 'input_audio', 'audio_url' and 'video_url'"
        )


def _parse_input_audio(spec: Any, where: str, context: ParseContext) -> Audio:
    """`{"data": raw base64, "format": "wav"|"mp3"}`; the bytes decide the type (a wrong
    `format` is corrected, and noted on the part)."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("data"), str):
        raise InvalidOptionError(f"{where}: input_audio needs a 'data' string (raw base64)")
    fmt = spec.get("format")
    if fmt not in ("wav", "mp3"):
        raise InvalidOptionError(
            f"{where}: input_audio.format is {fmt!r}; OpenAI takes 'wav' or 'mp3' (the short "
            "name, not a MIME type)"
        )
    source = context.source(spec["data"], "audio", where, base64_field=True)
    if isinstance(source, Resolved) and source.declared_mime is None:
        source = replace(source, declared_mime=normalize_mime(fmt))
    return Audio(source)


register(OpenAIFormat())
