"""Rules for media with a duration (video, audio): how many frames or samples a model takes,
at what size or rate, and their token cost. Pure functions of the media's facts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from mmkit.errors import InvalidOptionError, MediaTooLargeError


@dataclass(frozen=True)
class VideoPlan:
    """The frames the model samples, each frame's size, and what they all cost."""

    frames: int
    width: int
    height: int
    tokens: int


@dataclass(frozen=True)
class AudioPlan:
    """What the model reads: a sample rate and channel count (None: the model keeps the source's),
    the longest stretch it reads (None: all of it), and the token cost of what it reads."""

    sample_rate: int | None
    channels: int | None
    max_duration: float | None
    tokens: int


class VideoRule(Protocol):
    def plan(self, duration: float, fps: float, width: int, height: int) -> VideoPlan: ...


class AudioRule(Protocol):
    def plan(self, duration: float) -> AudioPlan: ...


def _check_duration(duration: float) -> None:
    if not duration > 0 or math.isinf(duration):
        raise InvalidOptionError(
            f"a duration must be a positive number of seconds, got {duration!r}; "
            "pass the decoded media's duration"
        )


_MAX_RATIO = 200  # qwen-vl-utils' MAX_RATIO: smart_resize refuses a longer side past 200×


@dataclass(frozen=True)
class QwenVideo:
    """qwen-vl-utils' fetch_video (0.0.14): frames at `fps`, floored to pairs (temporal patches
    of 2), each frame smart-resized within a per-frame pixel budget that shrinks as frames grow."""

    fps: float
    frame_factor: int
    min_frames: int
    max_frames: int
    factor: int
    min_pixels: int
    max_pixels: int
    total_pixels: float

    def frames(self, duration: float, fps: float) -> int:
        """qwen-vl-utils' smart_nframes with {"fps": self.fps}, on the stream's frame count."""
        total = round(duration * fps)  # the stream's frame count
        f = self.frame_factor
        lo = math.ceil(self.min_frames / f) * f
        hi = math.floor(min(self.max_frames, total) / f) * f
        # from the frame count, as smart_nframes does: total / fps is not always `duration`
        wanted = total / fps * self.fps
        n = math.floor(min(max(wanted, lo), hi, total) / f) * f
        if not f <= n <= total:
            raise MediaTooLargeError(
                f"a {duration:g}-second video at {fps:g} fps has {total} frames; this model "
                f"samples frames in pairs and needs at least {f}: send a longer clip or images"
            )
        return n

    def size(self, width: int, height: int, frames: int) -> tuple[int, int]:
        """qwen-vl-utils' smart_resize with the video's per-frame bounds."""
        if max(width, height) / min(width, height) > _MAX_RATIO:
            raise MediaTooLargeError(
                f"a {width}x{height} video has an aspect ratio over {_MAX_RATIO}:1, which this "
                "model's video processor refuses; crop it"
            )
        f = self.factor
        max_pixels = max(
            min(self.max_pixels, self.total_pixels / frames * self.frame_factor),
            int(self.min_pixels * 1.05),
        )
        h_bar = max(f, round(height / f) * f)
        w_bar = max(f, round(width / f) * f)
        if h_bar * w_bar > max_pixels:
            beta = math.sqrt(height * width / max_pixels)
            h_bar = math.floor(height / beta / f) * f
            w_bar = math.floor(width / beta / f) * f
        elif h_bar * w_bar < self.min_pixels:
            beta = math.sqrt(self.min_pixels / (height * width))
            h_bar = math.ceil(height * beta / f) * f
            w_bar = math.ceil(width * beta / f) * f
        return w_bar, h_bar

    def plan(self, duration: float, fps: float, width: int, height: int) -> VideoPlan:
        _check_duration(duration)
        n = self.frames(duration, fps)
        w, h = self.size(width, height, n)
        return VideoPlan(n, w, h, n // self.frame_factor * (w // self.factor) * (h // self.factor))


@dataclass(frozen=True)
class PerSecondVideo:
    """Gemini: frames sampled at `fps`, the size kept, a flat token rate a second."""

    fps: float
    tokens_per_second: int

    def plan(self, duration: float, fps: float, width: int, height: int) -> VideoPlan:
        _check_duration(duration)
        frames = max(1, math.ceil(duration * self.fps))
        return VideoPlan(frames, width, height, math.ceil(duration * self.tokens_per_second))


@dataclass(frozen=True)
class WhisperAudio:
    """Whisper-style encoders: mono at a fixed rate, one window read (longer audio is cut), a
    mel frame a hop, then two stride-2 stages (Qwen2-Audio's count)."""

    sample_rate: int
    window_seconds: int
    hop: int

    def plan(self, duration: float) -> AudioPlan:
        _check_duration(duration)
        samples = min(round(duration * self.sample_rate), self.window_seconds * self.sample_rate)
        mel = math.ceil(samples / self.hop)
        tokens = (((mel - 1) // 2 + 1) - 2) // 2 + 1
        return AudioPlan(self.sample_rate, 1, float(self.window_seconds), max(tokens, 0))


@dataclass(frozen=True)
class PerSecondAudio:
    """Gemini: channels mixed to one, the rate kept, a flat token rate a second."""

    tokens_per_second: int

    def plan(self, duration: float) -> AudioPlan:
        _check_duration(duration)
        return AudioPlan(None, 1, None, math.ceil(duration * self.tokens_per_second))
