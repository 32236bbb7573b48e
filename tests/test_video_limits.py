"""Video limits that a header or an option must not get past: the frame cap bounds every list of
sample times before it is built, numeric options are refused by name, a far start seeks.
Hostile cases run in a child process whose peak memory (VmHWM) is read from /proc."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmkit
from mmkit import Audio, Video
from mmkit.errors import InvalidOptionError

ROOT = Path(__file__).resolve().parent.parent


def _mkv(seconds: int, claim_seconds: float, fps: int = 10) -> bytes:
    """`seconds` of 32×32 H.264 at `fps` in Matroska, its Duration (ID 0x4489, a float in ms)
    rewritten to claim `claim_seconds`."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "40"}
        for i in range(seconds * fps):
            pixels = np.full((32, 32, 3), (i * 10) % 250, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    data = bytearray(buf.getvalue())
    at = data.find(b"\x44\x89\x88")
    assert at > 0
    struct.pack_into(">d", data, at + 3, claim_seconds * 1000)
    return bytes(data)


def _in_child(code: str, path: Path) -> dict[str, object]:
    """Run `code` (with `p`, the path, and mmkit imported) in a fresh interpreter; what it
    leaves in `out`, plus its peak resident memory in MiB from /proc/self/status."""
    script = (
        textwrap.dedent(
            """
        import json, sys
        from pathlib import Path
        import mmkit
        from mmkit import Message, Video
        p = Path(sys.argv[1])
        out = {}
        """
        )
        + textwrap.dedent(code)
        + textwrap.dedent(
            """
        with open("/proc/self/status") as status:
            peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
        out["peak_mib"] = peak // 1024
        print(json.dumps(out))
        """
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=300,  # generous: a hang fails here instead of stalling the run
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def claims_10_to_12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("claims") / "huge.mkv"
    path.write_bytes(_mkv(2, 1e12))
    return path


def test_the_huge_claim_is_what_the_probe_reads(claims_10_to_12: Path) -> None:
    assert Video(claims_10_to_12).duration == 1e12


def test_frames_at_one_a_second_over_a_claimed_10_to_12_seconds_stays_small(
    claims_10_to_12: Path,
) -> None:
    out = _in_child(
        """
        video = Video(p)
        frames = video.frames(fps=1)
        out["times"] = [f.timestamp for f in frames]
        out["notes"] = video.conversions
        """,
        claims_10_to_12,
    )
    # The file holds 2 s at 10 fps; the default cap spreads 1,000 times over the claim: 0 s
    # shows the first frame, 10^9 s and every later time the last one (1.9 s), shown once.
    assert out["times"] == [0.0, 1.9]
    assert out["notes"] == [
        "sampled 1000 frames, not 1,000,000,000,000 (pass max_frames= for more)",
        "asked for 1000 frames; 0:00.0–16666666666:40.0 holds 2 distinct ones: took all of them",
    ]
    assert isinstance(out["peak_mib"], int) and out["peak_mib"] < 400


def test_to_openai_with_fps_over_a_claimed_10_to_12_seconds_stays_small(
    claims_10_to_12: Path,
) -> None:
    out = _in_child(
        """
        (message,) = mmkit.to_openai([Message.user(video=Video(p, fps=1))])
        out["labels"] = [c["text"] for c in message["content"] if c["type"] == "text"]
        """,
        claims_10_to_12,
    )
    # OpenAI's cap of 32 frames over the claim: the first frame, then the last one (1.9 s)
    assert out["labels"] == ["frame at 0:00.0", "frame at 0:01.9"]
    assert isinstance(out["peak_mib"], int) and out["peak_mib"] < 400


def test_a_million_frames_a_second_over_an_hour_is_cut_to_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "hour.mkv"
    path.write_bytes(_mkv(2, 3600.0))
    out = _in_child(
        """
        video = Video(p, max_frames=4)
        frames = video.frames(fps=1e6)
        out["times"] = [f.timestamp for f in frames]
        out["notes"] = video.conversions
        """,
        path,
    )
    # 4 times spread over 3,600 s: 0, 900, 1800, 2700 s; past the 2 s held, the last frame shows
    assert out["times"] == [0.0, 1.9]
    assert out["notes"][0] == "sampled 4 frames, not 3,600,000,000 (max_frames=4)"  # type: ignore[index]
    assert isinstance(out["peak_mib"], int) and out["peak_mib"] < 400


def test_frames_past_the_default_cap_are_cut_and_the_cut_recorded(tmp_path: Path) -> None:
    path = tmp_path / "long.mkv"
    path.write_bytes(_mkv(120, 120.0, fps=10))  # 1,200 frames held
    video = Video(path)
    frames = video.frames(fps=10)
    assert len(frames) == 1000
    # 1,000 times spread over 120 s: every 0.12 s, each shown by the frame at or before it
    expected = [int(i * 1.2 + 1e-9) / 10 for i in range(1000)]
    assert [f.timestamp for f in frames] == pytest.approx(expected, abs=1e-6)
    assert video.conversions == ["sampled 1000 frames, not 1,200 (pass max_frames= for more)"]


# --- numeric options --------------------------------------------------------------------------

NASTY = [float("nan"), float("inf"), float("-inf"), -1.0, 0.0, 1e308]


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda v: v.frames(fps=float("nan")), "fps"),
        (lambda v: v.frames(fps=float("inf")), "fps"),
        (lambda v: v.frames(start=float("nan")), "start"),
        (lambda v: v.frames(end=float("inf")), "end"),
        (lambda v: v.frames(2.5), "n"),
        (lambda v: v.frames(10**9), "n"),
        (lambda v: v.frames(max_side=float("nan")), "max_side"),
    ],
)
def test_non_finite_frames_options_are_refused_by_name(
    fixtures_dir: Path, call: object, named: str
) -> None:
    video = Video(fixtures_dir / "clip.mp4")
    with pytest.raises(InvalidOptionError) as raised:
        call(video)  # type: ignore[operator]
    assert f"frames(): {named} must be" in str(raised.value)
    assert "clip.mp4" in str(raised.value)


@pytest.mark.parametrize(
    ("seconds", "overlap", "named"),
    [
        (float("inf"), 0.0, "seconds"),
        (float("nan"), 0.0, "seconds"),
        (1.0, float("nan"), "overlap"),
        (1.0, float("-inf"), "overlap"),
    ],
)
def test_non_finite_chunks_options_are_refused_by_name_before_iterating(
    fixtures_dir: Path, seconds: float, overlap: float, named: str
) -> None:
    with pytest.raises(InvalidOptionError, match=f"chunks\\(\\): {named} must be"):
        Audio(fixtures_dir / "tone.wav").chunks(seconds, overlap)  # no next(): refused at once


VIDEO_OPTIONS = [
    "frames",
    "fps",
    "start",
    "end",
    "max_side",
    "max_frames",
    "pixel_limit",
    "max_duration",
]
AUDIO_OPTIONS = ["sample_rate", "start", "end", "max_duration"]
IMAGE_OPTIONS = ["max_side", "max_pixels", "quality", "pixel_limit", "max_frames"]
any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(NASTY)


def _outcome(make: object) -> str:
    """'ok', or the name of the mmkit error raised; anything else escapes and fails the test."""
    try:
        make()  # type: ignore[operator]
    except mmkit.MmkitError as exc:
        return type(exc).__name__
    return "ok"


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def _whole(value: float) -> bool:
    return _finite(value) and value == int(value)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(VIDEO_OPTIONS), value=any_float)
def test_any_float_for_a_video_option_gives_frames_or_an_option_error(
    name: str, value: float
) -> None:
    path = ROOT / "fixtures" / "clip.mp4"  # 96×64, 1.0 s at 10 fps
    options: dict[str, Any] = {name: value}
    outcome = _outcome(lambda: Video(path, **options).frames(2))
    counts = ("frames", "max_side", "max_frames", "pixel_limit")
    if not _finite(value) or (name in counts and not _whole(value)):
        assert outcome == "InvalidOptionError"
    elif name in counts and value >= 2**63:
        assert outcome == "InvalidOptionError"  # past a 64-bit count: no such size
    elif name != "start" and value <= 0:
        assert outcome == "InvalidOptionError"
    elif name == "start" and not 0 <= value < 1.0:
        assert outcome == "InvalidOptionError"  # before the clip, or at or past its end
    elif name in ("frames", "max_frames") and value > 100_000:
        assert outcome == "InvalidOptionError"
    elif name == "pixel_limit" and value < 96 * 64:
        assert outcome == "MediaTooLargeError"  # the limit works: the clip is over it
    elif name == "max_duration" and value < 1.0:
        assert outcome == "MediaTooLargeError"
    else:
        assert outcome == "ok"


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(["fps", "start", "end", "n"]), value=any_float)
def test_any_float_for_a_frames_argument_gives_frames_or_an_option_error(
    name: str, value: float
) -> None:
    video = Video(ROOT / "fixtures" / "clip.mp4")
    options: dict[str, Any] = {name: value}
    outcome = _outcome(lambda: video.frames(**options))
    refused = (
        not _finite(value)
        or value < 0
        or (name == "n" and not (_whole(value) and value <= 100_000))
        or (name != "start" and value == 0)
        or (name == "start" and value >= 1.0)  # the range from there is empty
    )
    assert outcome == ("InvalidOptionError" if refused else "ok")


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(AUDIO_OPTIONS), value=any_float)
def test_any_float_for_an_audio_option_gives_a_part_or_an_option_error(
    name: str, value: float
) -> None:
    options: dict[str, Any] = {name: value}
    outcome = _outcome(lambda: Audio(ROOT / "fixtures" / "tone.wav", **options))
    refused = (
        not _finite(value)
        or (name == "sample_rate" and not (_whole(value) and 1_000 <= value <= 384_000))
        or (name in ("end", "max_duration") and value <= 0)
        or (name == "start" and value < 0)
    )
    assert outcome == ("InvalidOptionError" if refused else "ok")


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(IMAGE_OPTIONS), value=any_float)
def test_any_float_for_an_image_option_gives_a_part_or_an_option_error(
    name: str, value: float
) -> None:
    from mmkit import Image

    options: dict[str, Any] = {name: value}
    outcome = _outcome(lambda: Image(ROOT / "fixtures" / "photo.jpg", **options))
    if not _whole(value) or value <= 0 or value >= 2**63 or (name == "quality" and value > 100):
        assert outcome == "InvalidOptionError"
    elif name == "pixel_limit" and value < 320 * 240:
        assert outcome == "MediaTooLargeError"  # the limit works: the photo is over it
    else:
        assert outcome == "ok"
