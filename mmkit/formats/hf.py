"""Hugging Face chat-template parts, for `processor.apply_chat_template`.

`{"type":"image","url":…}` for URLs (transformers fetches them), `{"type":"image","base64":…}`
for inline images (a data URI, which transformers' `load_image` reads), and text parts. A video
is `{"type":"video","url":…}`, or, inline, `{"type":"video","video":[frame data URIs…]}` (the
sampled frames: transformers loads videos from URLs and paths only). Content
is always a list: processors' templates iterate over it.
"""

from __future__ import annotations

from mmkit.formats.base import Json, Target, TypedPartsFormat
from mmkit.formats.registry import register
from mmkit.media.audio import AudioLimits
from mmkit.media.image import ImageLimits
from mmkit.media.video import VideoLimits
from mmkit.message import Message

# Pillow decodes on the receiving side: more types pass as they are, with no byte limit.
# Resize rules belong to each model's image processor (transformers' `size`/`max_pixels`, e.g.
# Qwen2-VL 12,845,056 pixels, LLaVA 336 px), not to the chat template: none is written here.
TARGET = Target(
    images=ImageLimits(
        mimes=frozenset(
            {"image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff"}
        ),
        animation=False,
        max_bytes=None,
    ),
    # transformers loads a video from a URL or a path, or takes its frames: no data URIs
    videos=VideoLimits(native=True, max_bytes=None, data_uri=False),
    fetches_urls=True,
    # transformers' load_audio reads these with soundfile/librosa and resamples to the
    # processor's rate (16 kHz mono for Whisper-family models): they pass as they are; anything
    # else is converted to WAV at 16 kHz mono, what the processor would make of it anyway.
    audio=AudioLimits(
        accepts=frozenset({"wav/*", "flac/*", "mp3/*", "ogg/*"}),
        writes=("wav",),
        sample_rate=16_000,
        mono=True,
        max_bytes=None,
    ),
)


class HFFormat(TypedPartsFormat):
    name = "hf"
    label = "HF chat templates"
    target = TARGET
    image_keys = ("url", "base64", "path", "image")  # transformers reads all four
    audio_keys = ("url", "base64", "path", "audio")
    video_keys = ("url", "path", "video")

    def video_frames(self, frames: list[tuple[str, str, str]]) -> list[Json]:
        """A video transformers cannot fetch goes as its list of frames (data URIs)."""
        return [{"type": "video", "video": [value for _, _, value in frames]}]

    def wrap_message(self, message: Message, parts: list[Json]) -> Json:
        out: Json = {"role": message.role, "content": parts}
        if message.name is not None:
            out["name"] = message.name
        out.update(message.extra)
        return out


register(HFFormat())
