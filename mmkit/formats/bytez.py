"""Bytez native parts: `{"type":"image"|"audio"|"video","url":…}` or `{…,"base64":"data:…"}`."""

from __future__ import annotations

from mmkit.formats.base import Target, TypedPartsFormat
from mmkit.formats.registry import register
from mmkit.media.audio import AudioLimits
from mmkit.media.image import ImageLimits
from mmkit.media.video import VideoLimits

# Bytez runs Hugging Face processors (Pillow decodes); its size limits are not published
# (docs.bytez.com and its OpenAPI files state none). Each model's processor resizes to its own
# input size, which differs per model, so no resize rule is written here: pass max_side= per
# image (or images=ImageLimits(max_side=...) per call) when the model is known.
TARGET = Target(
    images=ImageLimits(
        mimes=frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"}),
        animation=False,
        max_bytes=20 * 1024 * 1024,
    ),
    # video-text-to-text models take {"type":"video","url"|"base64"}; limits not published
    videos=VideoLimits(native=True, max_bytes=50 * 1024 * 1024),
    fetches_urls=True,
    # Bytez's audio models run Hugging Face pipelines, which read audio with FFmpeg: every audio
    # container mmkit reads passes with its true MIME type; a video's sound track becomes WAV.
    # Limits are not published: 25 MB as vLLM and instructor use, a setting.
    audio=AudioLimits(
        accepts=frozenset(
            {"wav/*", "mp3/*", "flac/*", "ogg/*", "m4a/*", "aac/*", "webm/*", "aiff/*"}
        ),
        writes=("wav", "mp3"),
        max_bytes=25 * 1024 * 1024,
    ),
)


class BytezFormat(TypedPartsFormat):
    name = "bytez"
    label = "Bytez parts"
    target = TARGET


register(BytezFormat())
