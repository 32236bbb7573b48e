"""Bytez native parts: `{"type":"image"|"video","url":…}` or `{…,"base64":"data:…"}`."""

from __future__ import annotations

from mmkit.formats import register
from mmkit.formats.base import Target, TypedPartsFormat
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
)


class BytezFormat(TypedPartsFormat):
    name = "bytez"
    label = "Bytez parts"
    target = TARGET


register(BytezFormat())
