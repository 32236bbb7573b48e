"""What a video is (its header facts), what a receiver accepts and what the user asked;
the range and clock arithmetic shared by sampling and encoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mmkit.errors import InvalidOptionError

if TYPE_CHECKING:
    from PIL import Image as PILImage

# A video is held as bytes, or as a local path (never read whole: long files stay on disk).
Source = bytes | Path

VIDEO_MIMES = frozenset(
    {
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "video/x-matroska",
        "video/x-msvideo",
        "video/mp2t",
        "video/3gpp",
    }
)
# Per-frame pixel guard (8K UHD is 33 M pixels); settable per video with `pixel_limit`.
DEFAULT_PIXEL_LIMIT = 8192 * 8192
# A list of frames given as a video holds at most this many (each is decoded to be checked).
MAX_LIST_FRAMES = 4096
DEFAULT_FRAMES = 8  # frames sent to a target without video when the user did not say
# frames() returns at most this many unless max_frames= says more (each is a JPEG in memory).
FRAMES_CAP = 1_000
# No frame count asked of a video (n, frames=, max_frames=) may exceed this.
MAX_FRAMES = 100_000


@dataclass(frozen=True)
class VideoInfo:
    """What the headers say. width/height are as displayed (rotation applied)."""

    mime: str
    width: int
    height: int
    duration: float
    fps: float
    frames: int
    codec: str
    rotation: int = 0  # degrees counter-clockwise the player turns the picture (0/90/180/270)
    has_audio: bool = False
    start_time: float = 0.0


@dataclass(frozen=True)
class VideoLimits:
    """What a receiver accepts: data in each wire format module, overridable by the caller."""

    native: bool = True  # False: the receiver reads no video; sampled frames are sent instead
    mimes: frozenset[str] = frozenset({"video/mp4", "video/webm", "video/quicktime"})
    max_bytes: int | None = 50 * 1024 * 1024
    max_duration: float | None = None
    max_pixels: int | None = None  # per frame
    max_frames: int = 32  # frames sampled at most (vLLM's default); the cap holds on every path
    data_uri: bool = True  # False: the receiver only fetches http(s) URLs (transformers serve)


@dataclass(frozen=True)
class VideoRequest:
    """What the user asked of one video."""

    start: float | None = None
    end: float | None = None
    max_side: int | None = None


@dataclass(frozen=True)
class EncodedVideo:
    data: bytes
    mime: str
    width: int
    height: int
    duration: float
    conversions: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Frame:
    """One sampled frame: upright pixels and the time it is shown, in seconds from the start."""

    timestamp: float
    image: PILImage.Image | None  # None when only the JPEG is kept
    jpeg: bytes | None = None  # the image as JPEG, when asked for


def clip_range(
    info: VideoInfo, start: float | None, end: float | None, origin: str
) -> tuple[float, float]:
    """[start, end) in stream seconds, checked against the video's own span."""
    first = info.start_time
    last = info.start_time + info.duration
    lo = first if start is None else first + start
    hi = last if end is None else min(last, first + end)
    for name, value in (("start", start), ("end", end)):
        if value is not None and not math.isfinite(value):
            raise InvalidOptionError(f"video {origin}: {name}={value} is not a number of seconds")
    if (start is not None and start < 0) or (end is not None and end <= 0):
        raise InvalidOptionError(f"video {origin}: start and end are seconds ≥ 0")
    if lo >= hi:
        raise InvalidOptionError(
            f"video {origin}: the range {start or 0:g}–"
            f"{end if end is not None else info.duration:g} s is empty (the video is "
            f"{info.duration:.2f} s long)"
        )
    return lo, hi


def clock(seconds: float) -> str:
    """3.25 -> '0:03.2', 75 -> '1:15.0': how frame labels show a time."""
    tenths = int(seconds * 10 + 1e-6)
    minutes, tenths = divmod(tenths, 600)
    return f"{minutes}:{tenths // 10:02d}.{tenths % 10}"
