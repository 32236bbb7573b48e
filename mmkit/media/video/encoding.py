"""Encoding for a receiver that reads video: the file as it is when the receiver takes it, else
re-encoded to H.264 MP4 (libx264): trimmed, scaled, turned upright, shrunk to its byte limit.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from mmkit.errors import InvalidMediaError, MediaTooLargeError, MmkitError
from mmkit.media.image import fit_size
from mmkit.media.sniff import short_name
from mmkit.media.video.container import _first_line, _nbytes, _opened, _read
from mmkit.media.video.decode import _reformatter, _runs_past_claim, _Sampler, _upright
from mmkit.media.video.info import (
    EncodedVideo,
    Source,
    VideoInfo,
    VideoLimits,
    VideoRequest,
    clip_range,
    clock,
)
from mmkit.media.video.probing import validate

if TYPE_CHECKING:
    from PIL import Image as PILImage

# Re-encoding: libx264 quality steps tried, in order, when the result is over a byte limit.
_CRF_STEPS = (23, 28, 33, 38)
_MAX_SHRINK_STEPS = 4

# Defaults of `encode` (frozen: one instance serves every call).
_NOTHING_ASKED, _ANY_RECEIVER = VideoRequest(), VideoLimits()


def encode(
    src: Source,
    info: VideoInfo,
    origin: str,
    request: VideoRequest = _NOTHING_ASKED,
    limits: VideoLimits = _ANY_RECEIVER,
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
    # The bytes go as they are only when they hold what the headers describe: a receiver's
    # decoder reads past a lying duration, so such a file is re-encoded to the claimed length.
    # A cut at the end keeps the tail out anyway; else look (a demux bounded by the claim).
    to_the_end = end >= info.start_time + info.duration - 1e-6
    overlong = to_the_end and _holds_more(src, info, origin)
    if as_is and not overlong:
        validate(src, info, origin, pixel_limit)
        data = src if isinstance(src, bytes) else _read(src, origin)
        return EncodedVideo(data, info.mime, info.width, info.height, info.duration)
    notes: list[str] = []
    if overlong:
        notes.append(
            f"cut to the {info.duration:.1f} s its headers claim (the file holds more: a "
            "receiver would have played it all)"
        )
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


def _holds_more(src: Source, info: VideoInfo, origin: str) -> bool:
    with _opened(src, origin) as container:
        try:
            return _runs_past_claim(container, info)
        except Exception as exc:
            raise InvalidMediaError(
                f"video {origin} could not be read ({_first_line(exc)}); re-encode it"
            ) from None


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
            # x264's frame threads: the same bytes each time (slice threads are not; see below)
            stream.codec_context.thread_type = "FRAME"
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
                # x264's frame threads give the same bytes every time; PyAV's default, slice
                # threads, gave another size about one encode in 40 under load
                video.codec_context.thread_type = "FRAME"
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
