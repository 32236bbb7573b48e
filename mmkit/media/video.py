"""Videos: container-header probe, first-frame validation, fast frame sampling, and encoding for a
receiver's limits.

PyAV (FFmpeg) is the decoder. The probe reads the container and stream headers only (duration,
rate, frame count, size, codec, rotation, audio); `validate` decodes the first frame for real;
`sample` seeks to the keyframe before each wanted time and decodes forward only to it, scaling in
swscale as it converts; `encode` passes the file through when the receiver takes it as it is and
re-encodes it to H.264 MP4 (libx264) when it must be trimmed, scaled, turned upright or shrunk.

Every limit is counted on what is decoded: each frame's pixels are checked, and decoding stops at
the duration and frame count the container claims (a file that decodes to more is cut off).
"""

from __future__ import annotations

import bisect
import heapq
import io
import itertools
import math
import os
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmkit.errors import InvalidMediaError, MediaTooLargeError, MmkitError, UnsupportedFormatError
from mmkit.media.image import fit_size
from mmkit.media.sniff import short_name, sniff

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
# Without a keyframe index, walk forward (demux + decode) rather than seek for gaps up to this.
_WALK_SECONDS = 2.0
# Re-encoding: libx264 quality steps tried, in order, when the result is over a byte limit.
_CRF_STEPS = (23, 28, 33, 38)
_MAX_SHRINK_STEPS = 4
# A decoded stream may run a little past its header (rounding, a last long frame): this much.
_CLAIM_SLACK_FRAMES = 2
# Parallel sampling runs at most (each holds one decoder's frames in memory).
_MAX_WORKERS = 4
# What `_decoded` does with a packet.
_FEED, _SKIP, _DRAIN = "feed", "skip", "drain"
# Containers whose packets carry presentation times (AVI's are in decode order).
_PTS_MIMES = frozenset(VIDEO_MIMES - {"video/x-msvideo"})


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


def probe(src: Source, origin: str, pixel_limit: int | None = None) -> VideoInfo:
    """Read the container and stream headers only; refuse what is not a video or is too large."""
    mime = _sniff_source(src)
    if mime is None or not mime.startswith("video/"):
        found = f"looks like {mime}" if mime else "has no known video signature"
        raise InvalidMediaError(
            f"video {origin} {found}; pass an MP4, MOV, WEBM, MKV, AVI or MPEG-TS file"
        )
    with _opened(src, origin) as container:
        try:
            if not container.streams.video:
                kind = "audio only" if container.streams.audio else "no video stream"
                raise InvalidMediaError(
                    f"video {origin} has {kind}; pass a file with a picture (audio goes in Audio)"
                )
            stream = container.streams.video[0]
            codec = stream.codec_context.codec.canonical_name  # 'av1', not 'libdav1d'
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
            fps = _rate(stream)
            duration = _duration(container, stream)
            frames = int(stream.frames or 0) or max(1, round(duration * fps))
            start_time = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            has_audio = bool(container.streams.audio)
        except MmkitError:
            raise
        except Exception as exc:  # a broken header reports in many ways
            raise InvalidMediaError(
                f"video {origin} has a corrupt header ({_first_line(exc)})"
            ) from None
    if width < 1 or height < 1:
        raise InvalidMediaError(f"video {origin} has an empty picture size {width}×{height}")
    limit = DEFAULT_PIXEL_LIMIT if pixel_limit is None else pixel_limit
    if width * height > limit:
        raise MediaTooLargeError(
            f"video {origin} is {width}×{height} = {width * height:,} pixels a frame, over the "
            f"{limit:,}-pixel limit; pass pixel_limit= to allow it if you trust the file"
        )
    if duration <= 0:
        raise InvalidMediaError(f"video {origin} has no duration in its headers; re-mux it")
    rotation = _mp4_rotation(src) if mime in ("video/mp4", "video/quicktime", "video/3gpp") else 0
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        mime, width, height, duration, fps, frames, codec, rotation, has_audio, start_time
    )


def validate(src: Source, info: VideoInfo, origin: str, pixel_limit: int | None = None) -> None:
    """Decode the first frame for real (its pixels checked against the limit)."""
    with _opened(src, origin) as container:
        stream = container.streams.video[0]
        frame = next(_frames(container, stream, info, origin, pixel_limit), None)
    if frame is None:
        raise InvalidMediaError(f"video {origin} has no decodable frame; re-encode it")


def uniform_times(count: int, start: float, end: float) -> list[float]:
    """`count` times spread evenly over [start, end), the first at `start`."""
    step = (end - start) / count
    return [start + i * step for i in range(count)]


def rate_times(fps: float, start: float, end: float) -> list[float]:
    """One time every 1/fps second over [start, end), the first at `start`."""
    count = max(1, math.ceil((end - start) * fps - 1e-9))
    return [start + i / fps for i in range(count)]


def sample(
    src: Source,
    info: VideoInfo,
    origin: str,
    times: Sequence[float],
    *,
    exact: bool = True,
    max_side: int | None = None,
    max_pixels: int | None = None,
    pixel_limit: int | None = None,
    jpeg_quality: int | None = None,
    workers: int | None = None,
    window: tuple[float, float] | None = None,
) -> list[Frame]:
    """The frames shown at `times` (seconds, ascending), upright and scaled to fit.

    Seeks to the keyframe before each time and decodes forward only to it; while the next time
    lies before the next keyframe it keeps decoding instead of seeking. `exact=False` decodes
    keyframes only and takes the last one at or before each time. Frames shown at several times
    are returned once, so the result may be shorter than `times`. With `window=(start, end)`
    only frames starting in [start, end) are taken.

    The times are grouped by the keyframe they decode from, and the groups handed in order to
    one decoder per core as each comes free (GOPs are independent; PyAV releases the GIL while
    FFmpeg decodes). `jpeg_quality` also encodes each frame as JPEG in its thread
    (`Frame.jpeg`).
    """
    size = fit_size(info.width, info.height, max_side, max_pixels)
    low, high = window if window is not None else (0.0, math.inf)
    if not times:
        return []
    with _opened(src, origin) as first:  # the first decoder also reads the keyframe index
        ticks = _keyframe_ticks(first.streams.video[0])  # read once: 6 ms for a 10-min MP4
        keys = _keyframe_seconds(first.streams.video[0], ticks, info)
        # Times between two keyframes decode from the first of them: one task, never split.
        tasks = _gop_groups(times, keys) if keys else None
        most = min(os.cpu_count() or 1, _MAX_WORKERS)
        count = workers or min(most, len(tasks) if tasks else max(1, len(times) // 2))
        if tasks is None:  # no index: one contiguous stretch of the times per decoder
            tasks = [part for i in range(count) if (part := _part(times, i, count))]
        count = min(count, len(tasks))
        results: list[list[tuple[int, Frame]]] = [[] for _ in tasks]
        taken = itertools.count()
        lock = threading.Lock()

        def work(container: Any) -> None:
            """Tasks in ascending order, whichever decoder is free: each moves forward only."""
            decoding = _Decoding(
                container, info, origin, exact, size, pixel_limit, low, count, ticks
            )
            while True:
                with lock:
                    index = next(taken)
                if index >= len(tasks):
                    return
                results[index] = decoding.take(tasks[index], jpeg_quality)

        def other() -> None:
            with _opened(src, origin) as container:
                work(container)

        if count <= 1:
            work(first)
        else:
            from concurrent.futures import ThreadPoolExecutor  # not at import: it costs ~7 ms

            with ThreadPoolExecutor(count - 1, thread_name_prefix="mmkit-video") as pool:
                helpers = [pool.submit(other) for _ in range(count - 1)]
                work(first)
                for helper in helpers:
                    helper.result()
    out, collided = _in_order(results, high)
    if collided and exact and len(tasks) > 1:  # one decoder steps past a shared frame: no loss
        with _opened(src, origin) as container:
            decoding = _Decoding(container, info, origin, exact, size, pixel_limit, low, 1)
            out, _ = _in_order([decoding.take(list(times), jpeg_quality)], high)
    return out


def _in_order(results: list[list[tuple[int, Frame]]], high: float) -> tuple[list[Frame], bool]:
    """The tasks' frames in order, each once, none starting at or past `high`; and whether two
    tasks ended on one frame."""
    out: list[Frame] = []
    last_pts: int | None = None
    collided = False
    for result in results:
        for pts, frame in result:
            if last_pts is not None and pts <= last_pts:
                collided = True  # two tasks ended on one frame (a long frame, or exact=False)
                continue
            if frame.timestamp >= high - 1e-9:
                break  # the first frame after a time can lie past the range's end
            last_pts = pts
            out.append(frame)
    return out, collided


def _part(times: Sequence[float], index: int, count: int) -> list[float]:
    return list(times[index * len(times) // count : (index + 1) * len(times) // count])


def _keyframe_seconds(stream: Any, ticks: list[int], info: VideoInfo) -> list[float]:
    """Keyframe times (`_keyframe_ticks`) in seconds from the start."""
    return [float(tick * stream.time_base) - info.start_time for tick in ticks]


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


def _gop_groups(times: Sequence[float], keys: list[float]) -> list[list[float]]:
    """The times split where a keyframe lies between two of them."""
    groups: list[list[float]] = []
    last_key: int | None = None
    for t in times:
        key = bisect.bisect_right(keys, t + 1e-9)
        if groups and key == last_key:
            groups[-1].append(t)
        else:
            groups.append([t])
        last_key = key
    return groups


class _Decoding:
    """One decoder taking sampled times in ascending order, across tasks."""

    def __init__(
        self,
        container: Any,
        info: VideoInfo,
        origin: str,
        exact: bool,
        size: tuple[int, int],
        pixel_limit: int | None,
        low: float,
        decoders: int,
        keys: list[int] | None = None,
    ) -> None:
        """`keys`: the keyframe index (`_keyframe_ticks`), when the tasks are keyframe groups:
        after each task's last time a seek follows, so the decoder may be drained."""
        self.info, self.origin, self.exact, self.size, self.low = info, origin, exact, size, low
        self.drain = bool(keys)
        stream = container.streams.video[0]
        context = stream.codec_context
        # Alone, slice threads (a sliced stream decodes on every core); beside other decoders,
        # none: each decodes on its own core without handing work over. Never frame threads:
        # they must refill after every seek, which costs more than they save here.
        context.thread_type = "SLICE" if decoders == 1 else "NONE"
        if not exact:
            context.skip_frame = "NONKEY"
        self.sampler = _Sampler(
            container, stream, info, origin, pixel_limit, skip_unseen=exact, keys=keys
        )
        self.reformatter = _reformatter()
        self.reused: PILImage.Image | None = None
        self.last_pts: int | None = None

    def take(self, times: list[float], jpeg_quality: int | None) -> list[tuple[int, Frame]]:
        out: list[tuple[int, Frame]] = []
        try:
            for index, t in enumerate(times):
                ends = self.drain and index == len(times) - 1  # tasks are keyframe groups
                frame = self.sampler.frame_at(t, self.low, last=ends)
                last = self.last_pts
                if frame is not None and last is not None and frame.pts <= last:
                    if not self.exact:
                        continue  # keyframes only: the same one again
                    # Two times on one frame (a range starting between frames): take the next
                    # one, which starts within a frame of this time.
                    frame = self.sampler.next_after(last)
                if frame is None:
                    break  # past the end of what decodes
                self.last_pts = frame.pts
                seconds = self.sampler.seconds(frame)
                if jpeg_quality is None:
                    image = _upright(frame, self.info, self.size, self.reformatter)
                    out.append((frame.pts, Frame(seconds, image)))
                    continue
                # Only the JPEG is kept: convert into one reused image (fresh 2.7 MB buffers
                # for every 720p frame cost more in page faults than the conversion itself).
                self.reused = _upright(frame, self.info, self.size, self.reformatter, self.reused)
                out.append((frame.pts, Frame(seconds, None, _jpeg(self.reused, jpeg_quality))))
        except MmkitError:
            raise
        except Exception as exc:
            raise InvalidMediaError(
                f"video {self.origin} could not be decoded ({_first_line(exc)}); re-encode it"
            ) from None
        return out


def _jpeg(image: PILImage.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def all_frames(
    src: Source,
    info: VideoInfo,
    origin: str,
    start: float,
    end: float,
    limit: int,
    *,
    max_side: int | None = None,
    max_pixels: int | None = None,
    pixel_limit: int | None = None,
) -> list[Frame]:
    """Every frame shown in [start, end), at most `limit` of them, upright and scaled."""
    size = fit_size(info.width, info.height, max_side, max_pixels)
    out: list[Frame] = []
    with _opened(src, origin) as container:
        try:
            stream = container.streams.video[0]
            stream.codec_context.thread_type = "AUTO"
            sampler = _Sampler(container, stream, info, origin, pixel_limit)
            reformatter = _reformatter()
            for frame in sampler.range(start, end):
                image = _upright(frame, info, size, reformatter)
                out.append(Frame(sampler.seconds(frame), image))
                if len(out) >= limit:
                    break
        except MmkitError:
            raise
        except Exception as exc:
            raise InvalidMediaError(
                f"video {origin} could not be decoded ({_first_line(exc)}); re-encode it"
            ) from None
    return out


def encode(
    src: Source,
    info: VideoInfo,
    origin: str,
    request: VideoRequest = VideoRequest(),
    limits: VideoLimits = VideoLimits(),
    pixel_limit: int | None = None,
) -> EncodedVideo:
    """The video as a receiver that reads video accepts it; the original bytes when it can."""
    start, end = clip_range(info, request.start, request.end, origin)
    size = fit_size(info.width, info.height, request.max_side, limits.max_pixels)
    length = end - start
    if limits.max_duration is not None and length > limits.max_duration + 1e-6:
        raise MediaTooLargeError(
            f"video {origin} is {length:.1f} s long, over the target's {limits.max_duration:g}-s "
            "limit; pass start= and end= to send a part of it"
        )
    trimmed = start > info.start_time + 1e-6 or end < info.start_time + info.duration - 1e-6
    nbytes = _nbytes(src)
    as_is = (
        not trimmed
        and size == (info.width, info.height)
        and info.rotation == 0
        and info.mime in limits.mimes
        and (limits.max_bytes is None or nbytes <= limits.max_bytes)
    )
    if as_is:
        validate(src, info, origin, pixel_limit)
        data = src if isinstance(src, bytes) else _read(src, origin)
        return EncodedVideo(data, info.mime, info.width, info.height, info.duration)
    notes: list[str] = []
    if trimmed:
        notes.append(f"trimmed to {clock(start)}–{clock(end)}")
    if size != (info.width, info.height):
        notes.append(f"resized {info.width}×{info.height} → {size[0]}×{size[1]}")
    if info.rotation:
        notes.append(f"turned upright (display matrix {info.rotation}°)")
    if info.mime not in limits.mimes:
        notes.append(
            f"converted {short_name(info.mime).upper()} → MP4 (the target does not take it)"
        )
    return _encode_within(src, info, origin, start, end, size, limits, pixel_limit, notes)


def frames_to_mp4(images: Sequence[PILImage.Image], fps: float, origin: str) -> bytes:
    """A list of still images as an H.264 MP4 at `fps` (each scaled to the first one's size)."""
    import av

    if not images:
        raise InvalidMediaError(f"video {origin} is an empty list of frames")
    width, height = _even(images[0].width), _even(images[0].height)
    buf = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1001)
    try:
        with av.open(buf, mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": "18", "preset": "veryfast"}
            for index, image in enumerate(images):
                rgb = image.convert("RGB")
                if rgb.size != (width, height):
                    rgb = rgb.resize((width, height))
                frame = av.VideoFrame.from_image(rgb)  # type: ignore[no-untyped-call]
                frame.pts = index
                frame.time_base = 1 / rate
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except MmkitError:
        raise
    except Exception as exc:
        raise InvalidMediaError(
            f"video {origin} could not be encoded ({_first_line(exc)})"
        ) from None
    return buf.getvalue()


def clip_range(
    info: VideoInfo, start: float | None, end: float | None, origin: str
) -> tuple[float, float]:
    """[start, end) in stream seconds, checked against the video's own span."""
    first = info.start_time
    last = info.start_time + info.duration
    lo = first if start is None else first + start
    hi = last if end is None else min(last, first + end)
    if (start is not None and start < 0) or (end is not None and end <= 0):
        raise UnsupportedFormatError(f"video {origin}: start and end are seconds ≥ 0")
    if lo >= hi:
        raise UnsupportedFormatError(
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


# --- internals ---------------------------------------------------------------------------------


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
    slack = _CLAIM_SLACK_FRAMES / info.fps if info.fps > 0 else 0.1
    end = info.start_time + info.duration + slack
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
        if float(frame.pts * base) >= end:
            return  # decodes to more than the container claims: cut off
        count += 1
        if count > most and frame.pts * base > info.start_time + info.duration:
            return
        yield frame


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
    # reformat + frombytes: PyAV's to_image copies row by row in Python (20× slower).
    rgb = convert(*args, width=width, height=height, format="rgb24", interpolation="BILINEAR")
    plane = rgb.planes[0]
    shape = (rgb.width, rgb.height)
    if into is not None and into.size == shape and into.mode == "RGB":
        image = into
        image.frombytes(plane, "raw", ("RGB", plane.line_size, 1))
    else:  # copies: the frame's buffer is freed with it
        image = PILImage.frombytes("RGB", shape, plane, "raw", "RGB", plane.line_size, 1)
    # The display matrix turns the picture counter-clockwise by `rotation` degrees.
    turn = {90: PILImage.Transpose.ROTATE_90, 180: PILImage.Transpose.ROTATE_180}
    turn[270] = PILImage.Transpose.ROTATE_270
    if rotation in turn:
        image = image.transpose(turn[rotation])
    return image


def _encode_within(
    src: Source,
    info: VideoInfo,
    origin: str,
    start: float,
    end: float,
    size: tuple[int, int],
    limits: VideoLimits,
    pixel_limit: int | None,
    notes: list[str],
) -> EncodedVideo:
    """Re-encode to H.264 MP4; over the byte limit, raise the CRF, then shrink, then give up."""
    cap = limits.max_bytes
    attempt = size
    first_size = None
    for _ in range(_MAX_SHRINK_STEPS):
        for crf in _CRF_STEPS:
            data = _transcode(src, info, origin, start, end, attempt, crf, pixel_limit)
            first_size = first_size or len(data)
            if cap is None or len(data) <= cap:
                if crf != _CRF_STEPS[0]:
                    notes.append(f"lowered quality (CRF {crf}) to fit {cap:,} bytes")
                if attempt != size:
                    notes.append(f"shrank to {attempt[0]}×{attempt[1]} to fit {cap:,} bytes")
                notes.append("re-encoded as H.264 MP4")
                return EncodedVideo(
                    data, "video/mp4", attempt[0], attempt[1], end - start, tuple(notes)
                )
            if cap is not None and len(data) > 4 * cap:
                break  # quality alone will not get there: shrink now
        w, h = attempt
        if w <= 32 or h <= 32:
            break
        attempt = (max(2, w // 2), max(2, h // 2))
    raise MediaTooLargeError(
        f"video {origin} re-encodes to {first_size or 0:,} bytes, over the target's "
        f"{cap or 0:,}-byte limit, and could not be shrunk to fit; pass start=/end= to send "
        "less of it or max_side= to send it smaller"
    )


def _transcode(
    src: Source,
    info: VideoInfo,
    origin: str,
    start: float,
    end: float,
    size: tuple[int, int],
    crf: int,
    pixel_limit: int | None,
) -> bytes:
    """[start, end) as H.264 (and AAC when there is sound) in MP4, upright, at `size`."""
    import av

    width, height = _even(size[0]), _even(size[1])
    rate = Fraction(info.fps).limit_denominator(1001) if info.fps > 0 else Fraction(25)
    buf = io.BytesIO()
    with _opened(src, origin) as container:
        try:
            stream = container.streams.video[0]
            stream.codec_context.thread_type = "AUTO"
            sampler = _Sampler(container, stream, info, origin, pixel_limit)
            with av.open(buf, mode="w", format="mp4") as out:
                video = out.add_stream("libx264", rate=rate)
                video.width, video.height, video.pix_fmt = width, height, "yuv420p"
                video.options = {"crf": str(crf), "preset": "veryfast"}
                sound = _audio_stream(container, out)
                reformatter = _reformatter()
                for frame in sampler.range(start, end):
                    image = _upright(frame, info, (width, height), reformatter)
                    made = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
                    made.pts = round((float(frame.pts * stream.time_base) - start) * rate)
                    made.time_base = 1 / rate
                    out.mux(video.encode(made))
                out.mux(video.encode(None))
                if sound is not None:
                    _copy_audio(src, origin, out, sound, start, end)
        except MmkitError:
            raise
        except Exception as exc:
            raise InvalidMediaError(
                f"video {origin} could not be re-encoded ({_first_line(exc)}); check the file"
            ) from None
    return buf.getvalue()


def _audio_stream(container: Any, out: Any) -> tuple[Any, str, int] | None:
    """An AAC stream in `out` for the input's first audio stream (added before any muxing)."""
    if not container.streams.audio:
        return None
    context = container.streams.audio[0].codec_context
    rate = int(context.sample_rate or 48_000)
    layout = "mono" if (context.channels or 1) == 1 else "stereo"
    audio = out.add_stream("aac", rate=rate)
    audio.layout = layout
    return audio, layout, rate


def _copy_audio(
    src: Source, origin: str, out: Any, target: tuple[Any, str, int], start: float, end: float
) -> None:
    """The sound of [start, end) as AAC in `out` (a second pass over the input)."""
    import av

    audio, layout, rate = target
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    written = 0

    def put(pieces: Any) -> None:
        nonlocal written
        for piece in pieces:
            piece.pts, piece.time_base = written, Fraction(1, rate)
            written += piece.samples
            out.mux(audio.encode(piece))

    with _opened(src, origin) as container:
        stream = container.streams.audio[0]
        if start > 0:
            container.seek(int(start / stream.time_base), backward=True, stream=stream)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base)
            if t + frame.samples / frame.sample_rate <= start:
                continue
            if t >= end:
                break
            put(resampler.resample(frame))
        put(resampler.resample(None))
        out.mux(audio.encode(None))


def _even(n: int) -> int:
    """H.264 in 4:2:0 wants even sizes."""
    return max(2, n - n % 2)


def _rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if 0 < value < 1000:
                return value
    return 0.0


def _duration(container: Any, stream: Any) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE units
    return 0.0


def _sniff_source(src: Source) -> str | None:
    if isinstance(src, bytes):
        return sniff(src[:1024])
    try:
        with open(src, "rb") as handle:
            return sniff(handle.read(1024))
    except OSError as exc:
        raise InvalidMediaError(f"video {src} cannot be read: {exc.strerror}") from None


def _nbytes(src: Source) -> int:
    return len(src) if isinstance(src, bytes) else src.stat().st_size


def _read(path: Path, origin: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidMediaError(f"video {origin} cannot be read: {exc.strerror}") from None


class _opened:
    """`with _opened(src, origin) as container`: PyAV's open with its errors translated."""

    def __init__(self, src: Source, origin: str) -> None:
        self._src, self._origin = src, origin
        self._container: Any = None

    def __enter__(self) -> Any:
        import av

        target: Any = io.BytesIO(self._src) if isinstance(self._src, bytes) else str(self._src)
        try:
            self._container = av.open(target, mode="r")
        except Exception as exc:
            raise InvalidMediaError(
                f"video {self._origin} cannot be opened as a video ({_first_line(exc)}); check "
                "the file"
            ) from None
        return self._container

    def __exit__(self, *exc: object) -> None:
        if self._container is not None:
            self._container.close()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else "") or type(exc).__name__


# --- MP4 display matrix ------------------------------------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia"}


def _mp4_rotation(src: Source) -> int:
    """The video track's display rotation from its `tkhd` matrix (0 when absent or odd).

    PyAV exposes the matrix only on decoded frames; reading the box keeps the probe header-only.
    """
    try:
        data = src if isinstance(src, bytes) else _moov_bytes(src)
        return _rotation_in(data, 0, len(data))
    except (struct.error, ValueError, OSError):
        return 0


def _moov_bytes(path: Path) -> bytes:
    """The `moov` box of a file on disk, wherever it is (start or end), without reading the rest."""
    with open(path, "rb") as handle:
        offset = 0
        size_total = path.stat().st_size
        while offset + 8 <= size_total:
            handle.seek(offset)
            header = handle.read(16)
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1:
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:
                size = size_total - offset
            if size < 8:
                return b""
            if kind == b"moov":
                handle.seek(offset)
                return handle.read(min(size, 64 * 1024 * 1024))
            offset += size
    return b""


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def _rotation_in(data: bytes, start: int, end: int) -> int:
    for kind, body, stop in _boxes(data, start, end):
        if kind == b"moov":
            return _rotation_in(data, body, stop)
        if kind == b"trak" and _is_video_track(data, body, stop):
            for inner, inner_body, _ in _boxes(data, body, stop):
                if inner == b"tkhd":
                    return _tkhd_rotation(data, inner_body)
    return 0


def _is_video_track(data: bytes, start: int, end: int) -> bool:
    for kind, body, stop in _boxes(data, start, end):
        if kind == b"mdia":
            for inner, inner_body, _ in _boxes(data, body, stop):
                if inner == b"hdlr":
                    return data[inner_body + 8 : inner_body + 12] == b"vide"
    return False


def _tkhd_rotation(data: bytes, body: int) -> int:
    version = data[body]
    # version 0: 4 + 4*5 + 8 + 4 = matrix at 40; version 1 has 64-bit times: matrix at 52.
    matrix_at = body + (52 if version == 1 else 40)
    a, b, _, c, d = struct.unpack(">5i", data[matrix_at : matrix_at + 20])
    # FFmpeg's av_display_rotation_get: the counter-clockwise angle of the matrix [a b; c d].
    scale_a, scale_b = math.hypot(a, c), math.hypot(b, d)
    if not scale_a or not scale_b:
        return 0
    angle = -math.degrees(math.atan2(b / scale_b, a / scale_a))
    return round(angle / 90) % 4 * 90
