"""Tests written to go red under a named plausible bug that the rest of the suite let pass
(issue 14's mutation audit): each says which bug it is for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from PIL import Image as PILImage

from mmkit import Audio, Message, Video
from mmkit.formats import get as get_format
from mmkit.media import video as video_codec

RED = (230, 20, 20)  # the marker fixtures/make_fixtures.py paints in the stored top-left corner


def near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(int(a) - b) < 40 for a, b in zip(pixel, colour, strict=True))


# --- Audio.to_numpy reports the rate it resampled to (bug: the source's rate) -----------------


def test_to_numpy_gives_the_samples_at_the_rate_asked_for(fixtures_dir: Path) -> None:
    # tone_float32.wav: 1.0 s of 8 kHz stereo
    samples, rate = Audio(fixtures_dir / "tone_float32.wav", sample_rate=16_000).to_numpy()
    assert rate == 16_000
    assert samples.shape == (16_000, 2) and samples.dtype == np.float32


def test_to_numpy_without_options_is_the_file_as_libsndfile_reads_it(fixtures_dir: Path) -> None:
    path = fixtures_dir / "tone_float32.wav"
    samples, rate = Audio(path).to_numpy()
    expected, expected_rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert (rate, expected_rate) == (8_000, 8_000)
    np.testing.assert_array_equal(samples, expected)


def test_to_numpy_mono_and_a_range(fixtures_dir: Path) -> None:
    path = fixtures_dir / "tone_float32.wav"
    samples, rate = Audio(path, mono=True, start=0.25, end=0.5).to_numpy()
    stereo, _ = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == 8_000 and samples.shape == (2_000, 1)
    np.testing.assert_allclose(samples[:, 0], stereo[2_000:4_000].mean(axis=1), atol=1e-7)


# --- a 270° display matrix is applied (bug: only 90° turned) -----------------------------------


def _upright_marker_corner(image: PILImage.Image) -> str:
    """Which corner of a 64×96 picture holds the red marker."""
    rgb = image.convert("RGB")
    assert rgb.size == (64, 96)
    corners = {"top-left": (4, 4), "top-right": (59, 4), "bottom-left": (4, 90)}
    corners["bottom-right"] = (59, 90)
    found = [name for name, at in corners.items() if near(rgb.getpixel(at), RED)]
    assert len(found) == 1, found
    return found[0]


def test_a_270_degree_clip_is_sampled_upright(fixtures_dir: Path) -> None:
    # stored 96×64, marker top-left; turned 270° counter-clockwise (90° clockwise): top-right
    video = Video(fixtures_dir / "rotated270.mp4")
    assert (video.rotation, video.width, video.height) == (270, 64, 96)
    (frame,) = video.frames(1)
    assert _upright_marker_corner(frame.to_pil()) == "top-right"


def test_a_270_degree_clip_is_re_encoded_upright(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "rotated270.mp4")
    encoded = video.encoded(video_codec.VideoLimits())
    assert "turned upright (display matrix 270°)" in encoded.conversions
    out = Video(encoded.data)
    assert (out.rotation, out.width, out.height) == (0, 64, 96)
    assert _upright_marker_corner(out.frames(1)[0].to_pil()) == "top-right"


def test_the_90_degree_clip_turns_the_other_way(fixtures_dir: Path) -> None:
    (frame,) = Video(fixtures_dir / "rotated.mp4").frames(1)
    assert _upright_marker_corner(frame.to_pil()) == "bottom-left"


# --- the re-encode walks its quality steps (bug: only the first step tried) -------------------


def test_a_byte_cap_met_only_at_a_later_quality_step_keeps_the_size(fixtures_dir: Path) -> None:
    # clip.avi re-encodes at 96×64 to about 2,680 bytes at CRF 23, 2,350 at 28, 2,180 at 33:
    # a 2,260-byte cap is met at CRF 33, without shrinking.
    video = Video(fixtures_dir / "clip.avi")
    encoded = video.encoded(video_codec.VideoLimits(max_bytes=2_260))
    assert len(encoded.data) <= 2_260
    assert (encoded.width, encoded.height) == (96, 64)
    assert encoded.conversions == (
        "converted AVI → MP4 (the target does not take it)",
        "lowered quality (CRF 33) to fit 2,260 bytes",
        "re-encoded as H.264 MP4",
    )


# --- max_frames on a part and a target's cap: the smaller wins, spread over the range --------


def _labels(video: Video, cap: int) -> list[str]:
    limits = video_codec.VideoLimits(native=False, max_frames=cap)
    (message,) = get_format("openai").encode([Message.user(video=video)], videos=limits)
    return [p["text"] for p in message["content"] if p["type"] == "text"]


def test_a_part_cap_below_the_targets_wins(fixtures_dir: Path) -> None:
    # clip.mp4: frames at 0.0, 0.1, … 0.9 s. Three times over [0, 1): 0, 1/3, 2/3 s, each
    # shown by the frame at or before it.
    video = Video(fixtures_dir / "clip.mp4", max_frames=3)
    assert _labels(video, 32) == ["frame at 0:00.0", "frame at 0:00.3", "frame at 0:00.6"]
    assert "sampled 3 frames, not 8 (max_frames=3)" in video.conversions_for("openai")


def test_a_target_cap_below_the_parts_wins(fixtures_dir: Path) -> None:
    # frames=10 asked, max_frames=20 on the part, 4 at the target: 0, 0.25, 0.5, 0.75 s
    video = Video(fixtures_dir / "clip.mp4", frames=10, max_frames=20)
    assert _labels(video, 4) == [
        "frame at 0:00.0",
        "frame at 0:00.2",
        "frame at 0:00.5",
        "frame at 0:00.7",
    ]
    assert "sampled 4 frames, not 10 (max_frames=4)" in video.conversions_for("openai")
    assert video.max_frames == 20  # the part's own option is left as it was


# --- the 512 MiB cap on a captioning source file (never tested before) ------------------------


def test_the_512_mib_source_cap_in_a_child(tmp_path: Path) -> None:
    """Sparse files (no 512 MiB written to disk) of exactly the cap and one byte over, read in a
    child process so the half-gigabyte it holds is given back when it ends."""
    import subprocess
    import sys

    script = """
import os, sys
from pathlib import Path
from mmkit.caption.encode import read_source
from mmkit.errors import MediaTooLargeError
folder = Path(sys.argv[1])
for name, size in (("at.bin", 512 * 1024 * 1024), ("over.bin", 512 * 1024 * 1024 + 1)):
    path = folder / name
    with open(path, "wb") as f:
        f.truncate(size)  # a hole: no blocks written
    try:
        print(name, "read", len(read_source(path)))
    except MediaTooLargeError as exc:
        print(name, "refused", exc)
    path.unlink()
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "at.bin read 536870912",
        f"over.bin refused {tmp_path / 'over.bin'} is over 512 MiB; mmkit caption reads files "
        "up to that size (downscale or cut it first)",
    ]
