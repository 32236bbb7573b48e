"""Sampling: the frames shown at chosen times, each decoder seeking to the keyframe before a
time and decoding forward only to it; groups of times decoded in parallel.
"""

from __future__ import annotations

import bisect
import io
import itertools
import math
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mmkit.errors import InvalidMediaError, MmkitError
from mmkit.media.image import fit_size
from mmkit.media.video.container import _first_line, _opened
from mmkit.media.video.decode import _keyframe_ticks, _reformatter, _Sampler, _upright
from mmkit.media.video.info import Frame, Source, VideoInfo

if TYPE_CHECKING:
    from PIL import Image as PILImage

# Decoders sampling at once, at most: each holds its reference frames (H.264: up to 16, and
# one more for each FFmpeg thread), so memory sets the cap: about 512 MiB of decoded frames in
# all (720p: 16 decoders, 1080p: 8, 4K: 2), and never more than 16.
_MAX_WORKERS = 16
_DECODER_MEMORY = 512 << 20
_FRAMES_A_DECODER = 20


def most_decoders(width: int, height: int) -> int:
    """How many decoders of a `width`×`height` video may run at once (see _DECODER_MEMORY)."""
    held = max(1, width * height * 3 // 2 * _FRAMES_A_DECODER)  # YUV 4:2:0 frames
    return max(1, min(_MAX_WORKERS, _DECODER_MEMORY // held))


def uniform_times(count: int, start: float, end: float) -> list[float]:
    """`count` times spread evenly over [start, end), the first at `start`."""
    step = (end - start) / count
    return [start + i * step for i in range(count)]


def rate_times(fps: float, start: float, end: float) -> list[float]:
    """One time every 1/fps second over [start, end), the first at `start`."""
    count = max(1, math.ceil((end - start) * fps - 1e-9))
    return [start + i / fps for i in range(count)]


def planned_times(
    start: float, end: float, *, cap: int, count: int | None = None, fps: float | None = None
) -> tuple[list[float], int]:
    """The times to sample over [start, end): `count` spread evenly, or one every 1/fps second;
    past `cap`, `cap` spread evenly. With how many were asked for, counted without listing
    them: a header claiming 10^12 s, or fps=1e6, never builds a list longer than `cap`."""
    if fps is None:
        asked = count if count is not None else 1
        return uniform_times(min(asked, cap), start, end), asked
    span = min((end - start) * fps, 1e18)  # finite, and an exact int below 2^63
    asked = max(1, math.ceil(span - 1e-9))
    if asked > cap:
        return uniform_times(cap, start, end), asked
    return rate_times(fps, start, end), asked


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
    keep_pixels: bool = True,
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
    (`Frame.jpeg`); with `keep_pixels=False` only the JPEG is kept (`Frame.image` is None).
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
        cores = _cores()
        most = most_decoders(info.width, info.height)
        if tasks is None:  # no index: one contiguous stretch of the times per decoder
            parts = workers or min(cores, most, max(1, len(times) // 2))
            tasks = [part for i in range(parts) if (part := _part(times, i, parts))]
        count, threads = decoders_and_threads(cores, len(tasks), workers, most)
        results: list[list[tuple[int, Frame]]] = [[] for _ in tasks]
        taken = itertools.count()
        lock = threading.Lock()

        def work(container: Any) -> None:
            """Tasks in ascending order, whichever decoder is free: each moves forward only."""
            decoding = _Decoding(
                container, info, origin, exact, size, pixel_limit, low, threads, ticks
            )
            while True:
                with lock:
                    index = next(taken)
                if index >= len(tasks):
                    return
                results[index] = decoding.take(tasks[index], jpeg_quality, keep_pixels)

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
            decoding = _Decoding(container, info, origin, exact, size, pixel_limit, low, _cores())
            out, _ = _in_order([decoding.take(list(times), jpeg_quality, keep_pixels)], high)
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


def decoders_and_threads(
    cores: int, groups: int, workers: int | None = None, most: int = _MAX_WORKERS
) -> tuple[int, int]:
    """How many decoders sample `groups` keyframe groups on `cores` cores, and how many FFmpeg
    threads each runs: a decoder per group up to the cores (at most `most`, or `workers`),
    then the cores left over shared out among them (16 cores, 8 groups: 8 decoders × 2; 4K
    video, where 2 decoders may run: 2 × 8)."""
    decoders = max(1, min(workers or min(cores, most), groups))
    return decoders, max(1, cores // decoders)


def _cores() -> int:
    """The cores this process may run on (its affinity mask: a container's or taskset's share)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _part(times: Sequence[float], index: int, count: int) -> list[float]:
    return list(times[index * len(times) // count : (index + 1) * len(times) // count])


def _keyframe_seconds(stream: Any, ticks: list[int], info: VideoInfo) -> list[float]:
    """Keyframe times (`_keyframe_ticks`) in seconds from the start."""
    return [float(tick * stream.time_base) - info.start_time for tick in ticks]


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
        threads: int,
        keys: list[int] | None = None,
    ) -> None:
        """`threads`: FFmpeg threads for this decoder (the cores no other decoder uses).
        `keys`: the keyframe index (`_keyframe_ticks`), when the tasks are keyframe groups:
        after each task's last time a seek follows, so the decoder may be drained."""
        self.info, self.origin, self.exact, self.size, self.low = info, origin, exact, size, low
        self.drain = bool(keys)
        stream = container.streams.video[0]
        context = stream.codec_context
        # Keyframe groups decode in parallel best (no hand-over, no refill after a seek), so
        # each core first gets a decoder of its own; cores left over (more cores than groups,
        # or than memory allows decoders) go to FFmpeg's frame and slice threads in each one.
        context.thread_count = threads
        context.thread_type = "AUTO" if threads > 1 else "NONE"
        if not exact:
            context.skip_frame = "NONKEY"
        self.sampler = _Sampler(
            container, stream, info, origin, pixel_limit, skip_unseen=exact, keys=keys
        )
        self.reformatter = _reformatter()
        self.reused: PILImage.Image | None = None
        self.last_pts: int | None = None

    def take(
        self, times: list[float], jpeg_quality: int | None, keep_pixels: bool = True
    ) -> list[tuple[int, Frame]]:
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
                if jpeg_quality is None or keep_pixels:
                    image = _upright(frame, self.info, self.size, self.reformatter)
                    jpeg = None if jpeg_quality is None else _jpeg(image, jpeg_quality)
                    out.append((frame.pts, Frame(seconds, image, jpeg)))
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
