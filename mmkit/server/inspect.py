"""Decode one inline media part with the real decoders and describe it in a few words.

Each function takes the raw bytes and a label naming the part ("messages[1].content[2]") and
returns a short description ("image 640×480 JPEG", "audio 2.0 s 16 kHz mono",
"video 3.0 s 320×240 h264"), or raises `InvalidMediaError`/`MediaTooLargeError` whose message
starts with the label. They are CPU-bound: call them off the event loop.
"""

from __future__ import annotations

from mmkit.errors import MmkitError
from mmkit.media import audio
from mmkit.media.image import probe, validate
from mmkit.media.sniff import short_name


def describe_image(data: bytes, where: str) -> str:
    """Header probe (bomb guard), then a full decode of every frame with Pillow."""
    origin = f"({len(data):,} bytes)"
    try:
        info = probe(data, origin)
        validate(data, info, origin)
    except MmkitError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return f"image {info.width}×{info.height} {short_name(info.mime).upper()}"


def describe_audio(data: bytes, where: str, max_duration: float | None = None) -> str:
    """mmkit's own audio decoding: every sample decoded (in blocks), the length counted, never
    read from a header; more than `max_duration` seconds (default 600, as vLLM) is refused."""
    origin = f"({len(data):,} bytes)"
    try:
        info = audio.probe(data, origin)
        seconds = audio.validate(data, info, origin, max_duration)
    except MmkitError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return f"audio {audio.describe(seconds, info.sample_rate, info.channels)}"


def describe_video(data: bytes, where: str) -> str:
    """mmkit's video core: container headers (size as displayed, codec, duration), then the
    first frame decoded for real with its pixels checked."""
    from mmkit.media import video

    origin = f"({len(data):,} bytes)"
    try:
        info = video.probe(data, origin)
        video.validate(data, info, origin)
    except MmkitError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return f"video {info.duration:.1f} s {info.width}×{info.height} {info.codec}"
