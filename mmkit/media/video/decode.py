"""Decoding: frames read forward from a seek, each checked against the pixel limit and cut off
where the container says the video ends; turned upright and scaled in swscale.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from mmkit.errors import MediaTooLargeError
from mmkit.media.video.info import DEFAULT_PIXEL_LIMIT, VIDEO_MIMES, VideoInfo

if TYPE_CHECKING:
    from PIL import Image as PILImage

# Without a keyframe index, walk forward (demux + decode) rather than seek for gaps up to this.
_WALK_SECONDS = 2.0
# A decoded stream may run a little past its header (rounding, a last long frame): this much.
_CLAIM_SLACK_FRAMES = 2
# What `_decoded` does with a packet.
_FEED, _SKIP, _DRAIN = "feed", "skip", "drain"
# Containers whose packets carry presentation times (AVI's are in decode order).
_PTS_MIMES = frozenset(VIDEO_MIMES - {"video/x-msvideo"})


def _keyframe_ticks(stream: Any) -> list[int]:
    """Keyframe presentation times from the container's index, in the stream's time base.

    An MP4 index holds decode times, earlier than presentation times by the B-frame delay
    (the first keyframe is decoded before 0 and shown at 0): shifted by that delay."""
    ticks = sorted(e.timestamp for e in stream.index_entries if e.is_keyframe)
    start = stream.start_time
    if ticks and start is not None and ticks[0] < start:
        delay = start - ticks[0]
        ticks = [tick + delay for tick in ticks]
    return ticks


class _Sampler:
    """Reads the frames shown at ascending times, seeking only when it saves decoding."""

    def __init__(
        self,
        container: Any,
        stream: Any,
        info: VideoInfo,
        origin: str,
        pixel_limit: int | None,
        skip_unseen: bool = False,
        keys: list[int] | None = None,
    ) -> None:
        self.container, self.stream, self.info, self.origin = container, stream, info, origin
        self.pixel_limit = pixel_limit
        # Skip non-reference frames no time asks for; only where packets carry true
        # presentation times (AVI's are decode order).
        self._skip = skip_unseen and info.mime in _PTS_MIMES
        self._target: int | None = None  # pts of the time being walked to
        self._low = 0  # pts where the range asked for starts
        self._latest: int | None = None  # the latest pts at or before it among packets read
        self._drain_at: int | None = None  # end the stream once decoding passes this pts
        self._drained = False
        self._covered: int | None = None  # packets read since the seek fill time up to here
        self._pending: list[tuple[int, int]] = []  # read, but after a gap
        self._coverable = True
        self.base = stream.time_base
        # Keyframe times from the container index (MP4 sample tables, MKV cues), when it has one.
        self.keys = keys if keys is not None else _keyframe_ticks(stream)
        self.nominal = 1 / info.fps if info.fps > 0 else 0.04
        self._decoded: Iterator[Any] | None = None
        self._ahead: Any = None  # a frame read past the last time, kept for the next one
        self._position: int | None = None  # pts of the last frame decoded
        self._landed: int | None = None
        self._seek_works = True

    def seconds(self, frame: Any) -> float:
        return float(frame.pts * self.base) - self.info.start_time

    def frame_at(self, t: float, floor: float = 0.0, last: bool = False) -> Any:
        """The frame shown at `t` seconds: the last one starting at or before it, but none
        starting before `floor` (the start of the range asked for: then the first after it).

        `last`: the next time asked for (if any) lies past a keyframe, so a seek comes next:
        once every frame shown up to `t` is in the decoder, it is drained rather than fed
        the frames after `t` it needs before it lets go of the ones it holds back."""
        target = self._pts(self.info.start_time + t)
        low = self._pts_at_or_after(self.info.start_time + floor)
        self._drain_at = target if last and self._skip and self.keys else None
        if self._should_seek(target):
            self._seek(target)
            chosen = self._walk_to(target, low)
            landed = self._landed
            if landed is not None and (landed <= target or target <= self._first_pts()):
                return chosen
            # The seek landed after the time or nowhere (inexact seeking, as in MPEG-TS):
            # from now on read forward from the start only.
            self._seek_works = False
            self._rewind()
        return self._walk_to(target, low)

    def next_after(self, pts: int) -> Any:
        """The first frame starting after `pts`, read on from where the last time left off."""
        self._drain_at = None
        if self._drained:  # the decoder was emptied: find the place again
            self._seek(pts)
        assert self._decoded is not None
        while True:
            frame = self._ahead if self._ahead is not None else next(self._decoded, None)
            self._ahead = None
            if frame is None or frame.pts > pts:
                if frame is not None:
                    self._position = frame.pts
                return frame

    def range(self, start: float, end: float) -> Iterator[Any]:
        """Every frame starting in [start, end) (absolute seconds), in order."""
        first, last = self._pts_at_or_after(start), self._pts_at_or_after(end)
        if first <= self._first_pts():
            self._rewind()
        else:
            self._seek(first)
        assert self._decoded is not None
        head = next(self._decoded, None)
        if head is None or head.pts > first > self._first_pts():
            self._rewind()  # the seek landed after the start or nowhere: read from the top
            assert self._decoded is not None
            head = next(self._decoded, None)
        for frame in itertools.chain([head] if head is not None else [], self._decoded):
            if frame.pts >= last:
                return
            if frame.pts >= first:
                yield frame

    def _pts(self, seconds: float) -> int:
        return math.floor(float(seconds / self.base) + 1e-6)

    def _pts_at_or_after(self, seconds: float) -> int:
        return math.ceil(float(seconds / self.base) - 1e-6)

    def _first_pts(self) -> int:
        return self._pts(self.info.start_time)

    def _should_seek(self, target: int) -> bool:
        if self._drained and self._seek_works:
            return True
        if not self._seek_works:
            if self._decoded is None or (self._position is not None and target < self._position):
                self._rewind()
            return False
        if self._decoded is None or self._position is None:
            return True
        if target < self._position:
            return True
        if self.keys:  # seek only when a keyframe lies between where we are and the target
            index = bisect.bisect_right(self.keys, target) - 1
            return index >= 0 and self.keys[index] > self._position
        return float((target - self._position) * self.base) > _WALK_SECONDS

    def _seek(self, target: int) -> None:
        self.container.seek(max(target, 0), backward=True, any_frame=False, stream=self.stream)
        self._restart()

    def _rewind(self) -> None:
        self.container.seek(0)  # the start of the file, in AV_TIME_BASE: works everywhere
        self._restart()

    def _restart(self) -> None:
        self._decoded = self._stream()
        self._latest = None
        self._drained = False
        self._covered, self._pending, self._coverable = None, [], True
        self._ahead = None
        self._position = None
        self._landed = None  # pts of the first frame decoded after the seek

    def _stream(self) -> Iterator[Any]:
        choose = self._choose if self._skip else None
        return _frames(
            self.container, self.stream, self.info, self.origin, self.pixel_limit, choose
        )

    def _choose(self, packet: Any) -> str:
        at, covered, latest = self._drain_at, self._covered, self._latest
        # (and a frame at or before the target is inside the range asked for: else the one
        # shown is the first after it, which the decoder must still be fed)
        if (
            at is not None
            and covered is not None
            and covered > at
            and latest is not None
            and latest >= self._low
        ):
            # Every frame from the keyframe to past the target has been read: the decoder
            # holds all it needs to show them (B-frames make it hold some back until it has
            # decoded the next reference, which no time here asks for).
            self._drained = True
            return _DRAIN
        self._cover(packet)
        return _SKIP if self._unneeded(packet) else _FEED

    def _cover(self, packet: Any) -> None:
        """Extend the stretch of time, from the keyframe a seek landed on, that the packets
        read so far fill without a gap (packets come in decode order, not in time order)."""
        pts, length = packet.pts, packet.duration
        if not self._coverable:
            return
        if pts is None or not length or length < 0:
            self._coverable, self._covered = False, None  # no way to tell: never drain
            return
        if self._covered is None:
            self._covered = pts  # the keyframe: the stretch starts here
        heapq.heappush(self._pending, (pts, pts + length))
        while self._pending and self._pending[0][0] <= self._covered:
            _, end = heapq.heappop(self._pending)
            self._covered = max(self._covered, end)

    def _unneeded(self, packet: Any) -> bool:
        """True for a packet whose frame starts before another frame at or before the target:
        the target shows that later frame, and later targets lie further on still."""
        pts, target = packet.pts, self._target
        if pts is None or target is None or pts > target:
            return False
        if self._latest is None or pts > self._latest:
            self._latest = pts
            return False
        return True

    def _walk_to(self, target: int, low: int) -> Any:
        self._target, self._low = target, low
        if self._decoded is None:
            self._seek(target)
        assert self._decoded is not None
        chosen = None
        while True:
            frame = self._ahead if self._ahead is not None else next(self._decoded, None)
            self._ahead = None
            if frame is None:
                return chosen
            if self._landed is None:
                self._landed = frame.pts
            self._position = frame.pts
            if frame.pts < low:
                continue  # before the range asked for
            if frame.pts > target:
                self._ahead = frame  # it may be the one shown at the next time
                return frame if chosen is None else chosen  # none before: the nearest after
            chosen = frame
            duration = frame.duration or 0
            if duration and frame.pts + duration > target:
                return chosen  # shown at the time: no need to read the next frame


def _frames(
    container: Any,
    stream: Any,
    info: VideoInfo,
    origin: str,
    pixel_limit: int | None,
    choose: Callable[[Any], str] | None = None,
) -> Iterator[Any]:
    """Decoded frames with a pts, checked per frame, cut off where the container says it ends.

    `choose(packet)` may skip frames no one will look at, or end early (see `_decoded`)."""
    limit = DEFAULT_PIXEL_LIMIT if pixel_limit is None else pixel_limit
    base = stream.time_base
    # pts × num / den is float(pts × base) exactly (int / int rounds correctly), without
    # building a Fraction per frame (2.5% of sampling 32 frames)
    num, den = base.numerator, base.denominator
    end = _claimed_end(info)
    count = 0
    most = info.frames + _CLAIM_SLACK_FRAMES
    for frame in _decoded(container, stream, choose):
        if frame.width * frame.height > limit:
            raise MediaTooLargeError(
                f"video {origin} has a {frame.width}×{frame.height} frame, over the "
                f"{limit:,}-pixel limit per frame; pass pixel_limit= if you trust the file"
            )
        if frame.pts is None:
            continue
        if frame.pts * num / den >= end:
            return  # decodes to more than the container claims: cut off
        count += 1
        if count > most and frame.pts * base > info.start_time + info.duration:
            return
        yield frame


def _claimed_end(info: VideoInfo) -> float:
    """Where the container says the video ends, with the slack a decoded stream may run past it
    (rounding, a last long frame), in stream seconds."""
    slack = _CLAIM_SLACK_FRAMES / info.fps if info.fps > 0 else 0.1
    return info.start_time + info.duration + slack


def _runs_past_claim(container: Any, info: VideoInfo) -> bool:
    """True when a video packet starts past the duration the headers claim (an MP4 whose `mdhd`
    says 1 s over 60 s of samples). Demuxes only, and stops at the first such packet: the
    work is bounded by the claim, not by the file."""
    stream = container.streams.video[0]
    end = _claimed_end(info)
    for packet in container.demux(stream):
        at = packet.pts if packet.pts is not None else packet.dts  # AVI: decode times
        if at is not None and float(at * stream.time_base) >= end:
            return True
    return False


def _decoded(container: Any, stream: Any, choose: Callable[[Any], str] | None) -> Iterator[Any]:
    """Decoded frames; `choose(packet)` says per packet: _FEED it, _SKIP its frame if nothing
    refers to it, or _DRAIN: hand out the frames the decoder holds and end (a seek follows)."""
    if choose is None:
        yield from container.decode(stream)
        return
    context = stream.codec_context
    for packet in container.demux(stream):
        how = choose(packet)
        if how == _DRAIN:
            yield from context.decode(None)
            return
        context.skip_frame = "NONREF" if how == _SKIP else "DEFAULT"
        yield from packet.decode()


def _reformatter() -> Any:
    from av.video.reformatter import VideoReformatter

    return VideoReformatter()


def _upright(
    frame: Any,
    info: VideoInfo,
    size: tuple[int, int],
    reformatter: Any = None,
    into: PILImage.Image | None = None,
) -> PILImage.Image:
    """Convert in swscale at the stored size that displays as `size`, then turn it upright.

    Pass one `reformatter` (av's VideoReformatter) for a run of frames: `frame.reformat` builds
    a new swscale context for every frame, which costs more than the conversion. `into` is an
    image the pixels may be written over (when its size fits), instead of a new one."""
    from PIL import Image as PILImage

    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    width, height = size if rotation in (0, 180) else (size[1], size[0])
    convert = reformatter.reformat if reformatter is not None else frame.reformat
    args = (frame,) if reformatter is not None else ()
    # reformat + frombytes: PyAV's to_image copies row by row in Python (20× slower). Pillow
    # holds RGB as 4 bytes a pixel, so swscale writes RGBX and the copy is a plain memcpy; a new
    # image is left unfilled (it is written whole): 2.0 ms a 720p frame instead of 3.1.
    rgb = convert(*args, width=width, height=height, format="rgb0", interpolation="BILINEAR")
    plane = rgb.planes[0]
    shape = (rgb.width, rgb.height)
    if into is not None and into.size == shape and into.mode == "RGB":
        image = into
    else:  # copies: the frame's buffer is freed with it
        image = PILImage.new("RGB", shape, None)
    image.frombytes(plane, "raw", ("RGBX", plane.line_size, 1))
    # The display matrix turns the picture counter-clockwise by `rotation` degrees.
    turn = {90: PILImage.Transpose.ROTATE_90, 180: PILImage.Transpose.ROTATE_180}
    turn[270] = PILImage.Transpose.ROTATE_270
    if rotation in turn:
        image = image.transpose(turn[rotation])
    return image
