"""Property tests for video parts over real clips drawn by `mmkit.testing.video_bytes`."""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

import mmkit
from mmkit import Message, Video
from mmkit.errors import InvalidMediaError, MediaTooLargeError
from mmkit.formats import get as get_format
from mmkit.media import video as video_codec
from mmkit.media.video import decode as video_decode
from mmkit.media.video import sampling as video_sample
from mmkit.testing import strategies as mst


def decoded_times(data: bytes) -> list[float]:
    """Every frame's start time, by plain PyAV decoding (independent of mmkit's sampler)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return [float(f.pts * stream.time_base) for f in container.decode(stream)]


CLIPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RATES = (5, 10, 24, 25, 30)  # the rates video_bytes draws from


@st.composite
def known_clips(
    draw: st.DrawFn, min_frames: int = 1, max_frames: int = 12
) -> tuple[bytes, int, int]:
    """(clip, rate, frame count): video_bytes with both drawn first, so the test knows them. As
    mmkit.testing makes them, frame i starts at i / rate and the clip lasts count / rate."""
    rate = draw(st.sampled_from(RATES), label="rate")
    count = draw(st.integers(min_frames, max_frames), label="count")
    data = draw(mst.video_bytes(fps=(rate,), min_frames=count, max_frames=count))
    return data, rate, count


def expected_frames(
    frames: list[float], times: list[float], start: float, end: float
) -> list[float]:
    """The frame times mmkit's documented rule picks for `times` over [start, end), worked out
    from the frames' known times: each time shows the last frame starting at or before it (the
    first in range when none does); a frame already taken gives way to the next one; when the
    times ask for at least every frame in range, every frame in range."""
    inside = [f for f in frames if start - 1e-9 <= f < end]
    if len(times) >= len(inside):
        return inside
    out: list[float] = []
    for t in times:
        before = [f for f in inside if f <= t + 1e-9]
        frame = before[-1] if before else inside[0]
        if out and frame <= out[-1]:
            after = [f for f in inside if f > out[-1]]
            if not after:
                break
            frame = after[0]
        out.append(frame)
    return out


def clear_of_frames(times: list[float], frames: list[float]) -> bool:
    """No time within 2 ms of a frame's start (but 0 on the first): containers store times in
    ticks (WebM's are milliseconds), so a time on a frame may fall either side of it."""
    return all(abs(t - f) > 2e-3 or t == f == 0 for t in times for f in frames)


def frame_starts(data: bytes, rate: int, count: int) -> list[float]:
    """Each frame's start as stored: i / rate to the container's tick (checked against PyAV)."""
    stored = decoded_times(data)
    assert stored == pytest.approx([i / rate for i in range(count)], abs=1e-3)
    return stored


@CLIPS
@given(known_clips(), st.integers(1, 16))
def test_n_frames_gives_n_or_all_and_says_so(clip: tuple[bytes, int, int], n: int) -> None:
    data, rate, count = clip
    video = Video(data)
    frames = video.frames(n)
    stamps = [f.timestamp for f in frames]
    span = count / rate
    times = [k * span / n for k in range(n)]  # n spread evenly over the clip, by hand
    frames_at = frame_starts(data, rate, count)
    assume(clear_of_frames(times, frames_at))
    expected = expected_frames(frames_at, times, 0.0, span)
    assert stamps == pytest.approx(expected, abs=1e-3)
    if n > count:
        assert video.conversions == [
            f"asked for {n} frames; 0:00.0–{video_codec.clock(span)} holds {count} distinct "
            "ones: took all of them"
        ]
    else:
        assert video.conversions == []


@CLIPS
@given(known_clips(min_frames=4), st.data())
def test_frames_in_a_range_are_the_ones_shown_at_evenly_spread_times(
    clip: tuple[bytes, int, int], draw: st.DataObject
) -> None:
    data, rate, count = clip
    span = count / rate
    start = draw.draw(st.floats(0, span * 0.8), label="start")
    end = draw.draw(st.floats(start + span * 0.1, span), label="end")
    n = draw.draw(st.integers(1, 8), label="n")
    frames_at = frame_starts(data, rate, count)
    times = [start + k * (end - start) / n for k in range(n)]  # by hand, not uniform_times
    assume(clear_of_frames([*times, end], frames_at))
    video = Video(data)
    stamps = [f.timestamp for f in video.frames(n, start=start, end=end)]
    assert stamps == pytest.approx(expected_frames(frames_at, times, start, end), abs=1e-3)


@CLIPS
@given(known_clips(), st.sampled_from([1.0, 2.5, 7.0]))
def test_frames_at_a_rate(clip: tuple[bytes, int, int], fps: float) -> None:
    data, rate, count = clip
    span = count / rate
    asked = math.ceil(span * fps - 1e-9)  # one every 1/fps s over the clip, counted by hand
    times = [k / fps for k in range(asked)]
    frames_at = frame_starts(data, rate, count)
    assume(clear_of_frames(times, frames_at))
    stamps = [f.timestamp for f in Video(data).frames(fps=fps)]
    assert stamps == pytest.approx(expected_frames(frames_at, times, 0.0, span), abs=1e-3)


@CLIPS
@given(mst.video_bytes(), st.integers(8, 64))
def test_max_side_holds_on_frames_and_on_re_encoded_video(data: bytes, side: int) -> None:
    video = Video(data, max_side=side)
    for frame in video.frames(3):
        assert max(frame.width or 0, frame.height or 0) <= side
    (message,) = mmkit.to_bytez([Message.user(video=video)])
    uri = message["content"][0]["base64"]
    out = Video(base64.b64decode(uri.partition(",")[2]))
    assert max(out.width or 0, out.height or 0) <= side
    taken = {"video/mp4", "video/webm", "video/quicktime"}  # what Bytez takes as it is
    if max(video.width or 0, video.height or 0) > side or video.mime not in taken:
        assert out.codec == "h264"  # scaled or converted: re-encoded
    else:
        assert out.data == data  # fits: the original bytes


@CLIPS
@given(known_clips(), st.data())
def test_a_truncated_clip_is_refused_as_invalid_or_gives_frames_it_holds(
    clip: tuple[bytes, int, int], draw: st.DataObject
) -> None:
    data, rate, count = clip
    cut = draw.draw(st.integers(0, len(data) - 1), label="cut")
    try:
        video = Video(data[:cut])
        frames = video.frames(3)
        (message,) = mmkit.to_bytez([Message.user(video=video)])
    except InvalidMediaError as exc:
        assert "video bytes" in str(exc)  # names the input
        return
    # what decodes is the clip's own frames, at most the 3 asked for, and Bytez gets a video
    assert 1 <= len(frames) <= 3
    frames_at = [i / rate for i in range(count)]
    assert all(min(abs(f.timestamp - t) for t in frames_at) < 1e-3 for f in frames)  # type: ignore[operator]
    assert message["content"][0]["type"] == "video"


@settings(max_examples=60, deadline=None)
@given(st.one_of(mst.corrupt_bytes(), st.binary(max_size=2048)))
def test_random_bytes_are_refused_as_invalid_at_construction(data: bytes) -> None:
    with pytest.raises(InvalidMediaError, match="video bytes"):
        Video(data)


@CLIPS
@given(mst.video_bytes(), st.data())
def test_flipped_bytes_are_refused_as_invalid_or_too_large_or_still_sampled(
    data: bytes, draw: st.DataObject
) -> None:
    spots = draw.draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8))
    broken = bytearray(data)
    for spot in spots:
        broken[spot] ^= 0xFF
    try:
        video = Video(bytes(broken))
        frames = video.frames(4)
        encoded = video.encoded(video_codec.VideoLimits(mimes=frozenset()), None)
    except (InvalidMediaError, MediaTooLargeError) as exc:
        assert "video bytes" in str(exc)  # names the input
        return
    assert 1 <= len(frames) <= 4
    assert encoded.mime == "video/mp4" and encoded.data[4:8] == b"ftyp"  # re-encoded: no MIME taken


@CLIPS
@given(known_clips(max_frames=6), st.integers(1, 4))
def test_openai_gets_labelled_frames_capped_by_the_target(
    clip: tuple[bytes, int, int], cap: int
) -> None:
    data, _rate, count = clip
    limits = video_codec.VideoLimits(native=False, max_frames=cap)
    video = Video(data)
    (message,) = get_format("openai").encode([Message.user(video=video)], videos=limits)
    content = message["content"]
    labels, images = content[0::2], content[1::2]
    assert len(images) == min(cap, count)  # the clip's known frame count, not the probe's
    assert all(p["type"] == "text" and p["text"].startswith("frame at ") for p in labels)
    assert all(p["type"] == "image_url" for p in images)


# --- B-frames: frames no sampled time needs are skipped, never the ones it shows ----------------

B_RATE, B_FRAMES, B_GOP = 30, 90, 30


def _numbered_frame(index: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """64×48 gray, with the frame's index written as 7 black/white stripes (bit 0 leftmost)."""
    picture = np.full((48, 64, 3), 128, dtype=np.uint8)
    for bit in range(7):
        picture[8:40, 4 + bit * 8 : 4 + bit * 8 + 6] = 255 if index >> bit & 1 else 0
    return picture


def _read_number(image: PILImage.Image) -> int:
    pixels = np.asarray(image.convert("L"), dtype=np.float64)
    bits = [pixels[12:36, 5 + bit * 8 : 4 + bit * 8 + 5].mean() > 128 for bit in range(7)]
    return sum(1 << bit for bit, on in enumerate(bits) if on)


def _b_frame_clip() -> bytes:
    """3 s at 30 fps, a keyframe every 30 frames, 3 B-frames between references and none of
    them a reference (no B-pyramid): half the frames are ones a decoder may skip."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=B_RATE)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {
            "crf": "18",
            "x264-params": f"bframes=3:b-adapt=0:b-pyramid=0:keyint={B_GOP}:min-keyint={B_GOP}"
            ":scenecut=0",
        }
        for index in range(B_FRAMES):
            frame = av.VideoFrame.from_ndarray(_numbered_frame(index), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


B_CLIP = _b_frame_clip()


def test_the_b_frame_clip_has_frames_a_decoder_may_skip() -> None:
    with av.open(io.BytesIO(B_CLIP)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONREF"
        kept = sum(1 for _ in container.decode(stream))
    assert kept <= B_FRAMES * 2 // 3  # else the test below would not exercise skipping


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_each_frame_sampled_from_a_b_frame_clip_is_the_one_shown_at_its_time(
    draw: st.DataObject,
) -> None:
    first = draw.draw(st.integers(0, B_FRAMES - 1), label="first frame")
    last = draw.draw(st.integers(first + 1, B_FRAMES), label="end frame")
    n = draw.draw(st.integers(1, last - first), label="n")
    start, end = first / B_RATE, last / B_RATE
    frames = Video(B_CLIP).frames(n, start=start, end=end)
    # frame i is shown over [i/30, (i+1)/30): the time start + k·(end − start)/n shows frame
    # first + ⌊k·(last − first)/n⌋ (exact in integers; one frame apart at least, so distinct)
    expected = [first + k * (last - first) // n for k in range(n)]
    assert [round((f.timestamp or 0) * B_RATE) for f in frames] == expected
    assert [_read_number(f.to_pil()) for f in frames] == expected


def test_times_are_grouped_by_the_keyframe_they_decode_from() -> None:
    # keyframes at 0, 2 and 4 s: times decoding from one keyframe stay together, in order
    keys = [0.0, 2.0, 4.0]
    times = [0.0, 0.5, 1.99, 2.0, 3.5, 4.25, 9.0]
    assert video_sample._gop_groups(times, keys) == [[0.0, 0.5, 1.99], [2.0, 3.5], [4.25, 9.0]]
    assert video_sample._gop_groups([1.0], keys) == [[1.0]]


def test_parallel_decoders_give_what_one_decoder_gives() -> None:
    info = Video(B_CLIP)
    src, probed = info._source_and_info(None)
    times = video_codec.uniform_times(40, 0.0, B_FRAMES / B_RATE)
    one = video_codec.sample(src, probed, "clip", times, workers=1, jpeg_quality=90)
    three = video_codec.sample(src, probed, "clip", times, workers=3, jpeg_quality=90)
    assert [f.timestamp for f in three] == [f.timestamp for f in one]
    assert [f.jpeg for f in three] == [f.jpeg for f in one]
    assert len(one) == 40


def test_every_frame_of_the_b_frame_clip_is_sampled_as_itself_after_another() -> None:
    """Two times per call, two frames apart: every position in a GOP (B-frame or reference,
    first or last) comes back as itself, though the decoder is drained early after the last
    time rather than fed the frames that follow it."""
    video = Video(B_CLIP)
    for index in range(2, B_FRAMES - 1):  # the range ends inside the clip
        frames = video.frames(2, start=(index - 2) / B_RATE, end=(index + 2) / B_RATE)
        assert [round((f.timestamp or 0) * B_RATE) for f in frames] == [index - 2, index]
        assert [_read_number(f.to_pil()) for f in frames] == [index - 2, index]
        # a range starting mid-frame: the first frame starting inside it, the next one
        (frame,) = video.frames(1, start=(index - 1.5) / B_RATE, end=(index + 1) / B_RATE)
        assert round((frame.timestamp or 0) * B_RATE) == index - 1
        assert _read_number(frame.to_pil()) == index - 1


def test_two_decoders_landing_on_one_frame_fall_back_to_one_decoder(fixtures_dir: Path) -> None:
    # vfr.mp4 remuxed to MPEG-TS: no keyframe index, so the times are split in two stretches,
    # one per decoder. Frames start at 0, 0.1, 0.15, 0.4, 0.45 s; times 0, 0.15 | 0.3, 0.45:
    # the frame at 0.15 s is still shown at 0.3 s, so both decoders return it. One decoder in
    # order takes the next frame for 0.3 s instead (within a frame of it): 4 distinct frames.
    with av.open(str(fixtures_dir / "vfr.mp4")) as source, io.BytesIO() as buffer:
        with av.open(buffer, "w", format="mpegts") as out:
            stream = out.add_stream_from_template(source.streams.video[0])
            for packet in source.demux(source.streams.video[0]):
                if packet.size:
                    packet.stream = stream
                    out.mux(packet)
        clip = buffer.getvalue()
    frames = Video(clip).frames(4, start=0.0, end=0.6)
    assert [round(f.timestamp or 0, 3) for f in frames] == [0.0, 0.15, 0.4, 0.45]
    # times 0.1, 0.175 | 0.25, 0.325 in [0.1, 0.4): in order, the frames after 0.15 s start
    # at 0.4 s, past the range, so two distinct frames are all it holds
    frames = Video(clip).frames(4, start=0.1, end=0.4)
    assert [round(f.timestamp or 0, 3) for f in frames] == [0.1, 0.15]


def test_keyframe_times_are_when_keyframes_are_shown(fixtures_dir: Path) -> None:
    # an MP4 index holds decode times, a B-frame delay before the times frames are shown
    for clip in (B_CLIP, (fixtures_dir / "clip.mkv").read_bytes()):
        with av.open(io.BytesIO(clip)) as container:
            stream = container.streams.video[0]
            ticks = video_decode._keyframe_ticks(stream)
            shown = [frame.pts for frame in container.decode(stream) if frame.key_frame]
        assert ticks == shown
    info = Video(B_CLIP)._source_and_info(None)[1]
    with av.open(io.BytesIO(B_CLIP)) as container:
        stream = container.streams.video[0]
        seconds = video_sample._keyframe_seconds(stream, video_decode._keyframe_ticks(stream), info)
    assert [round(t * B_RATE) for t in seconds] == [0, B_GOP, 2 * B_GOP]
