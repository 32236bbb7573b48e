"""Decode one inline media part with the real decoders and describe it in a few words.

Each function takes the raw bytes and a label naming the part ("messages[1].content[2]") and
returns a short description ("image 640×480 JPEG", "audio 2.0 s 16 kHz mono",
"video 3.0 s 320×240 h264"), or raises `InvalidMediaError`/`MediaTooLargeError` whose message
starts with the label. They are CPU-bound: call them off the event loop.
"""

from __future__ import annotations

import io
import re

from mmkit.errors import InvalidMediaError, MmkitError
from mmkit.media.image import probe, validate
from mmkit.media.sniff import short_name, sniff

# What libsndfile reads natively; everything else (mp3, m4a, webm…) goes through PyAV.
_SOUNDFILE_MIMES = frozenset({"audio/wav", "audio/flac", "audio/ogg"})
# Parts of decoder messages that say nothing to the sender.
_NOISE = re.compile(r"Error opening <[^>]*>: |\[Errno -?\d+\] |: '<none>'")
# Frames read per block when decoding audio, so memory stays bounded for long files.
_AUDIO_BLOCK = 65_536


def describe_image(data: bytes, where: str) -> str:
    """Header probe (bomb guard), then a full decode of every frame with Pillow."""
    origin = f"({len(data):,} bytes)"
    try:
        info = probe(data, origin)
        validate(data, info, origin)
    except MmkitError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return f"image {info.width}×{info.height} {short_name(info.mime).upper()}"


def describe_audio(data: bytes, where: str) -> str:
    """soundfile for wav/flac/ogg, PyAV for the rest; every sample is decoded."""
    mime = sniff(data)
    if mime in _SOUNDFILE_MIMES:
        try:
            frames, rate, channels = _decode_soundfile(data)
        except Exception as exc:  # libsndfile reports corrupt files as RuntimeError subclasses
            raise InvalidMediaError(
                f"{where}: audio cannot be decoded ({_first_line(exc)})"
            ) from None
    else:
        frames, rate, channels = _decode_pyav_audio(data, where)
    if rate <= 0 or frames <= 0:
        raise InvalidMediaError(f"{where}: audio has no samples")
    return f"audio {frames / rate:.1f} s {_khz(rate)} {_channel_name(channels)}"


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


# --- internals ---------------------------------------------------------------------------------


def _decode_soundfile(data: bytes) -> tuple[int, int, int]:
    import soundfile

    frames = 0
    with soundfile.SoundFile(io.BytesIO(data)) as handle:
        rate, channels = int(handle.samplerate), int(handle.channels)
        for block in handle.blocks(blocksize=_AUDIO_BLOCK, dtype="int16"):
            frames += len(block)
    return frames, rate, channels


def _decode_pyav_audio(data: bytes, where: str) -> tuple[int, int, int]:
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise InvalidMediaError(f"{where}: audio has no audio stream")
            stream = container.streams.audio[0]
            frames = 0
            rate, channels = 0, 0
            for frame in container.decode(stream):
                frames += frame.samples
                rate = rate or int(frame.sample_rate)
                channels = channels or int(frame.layout.nb_channels)
    except MmkitError:
        raise
    except Exception as exc:
        raise InvalidMediaError(f"{where}: audio cannot be decoded ({_first_line(exc)})") from None
    return frames, rate, channels


def _khz(rate: int) -> str:
    return f"{rate / 1000:g} kHz"


def _channel_name(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels} ch")


def _first_line(exc: BaseException) -> str:
    """The decoder's message without its noise (object reprs, errno numbers, '<none>')."""
    lines = str(exc).strip().splitlines()
    text = _NOISE.sub("", lines[0]) if lines else ""
    return text.strip() or type(exc).__name__
