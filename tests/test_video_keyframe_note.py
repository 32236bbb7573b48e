"""`frames(n, exact=False)` says why fewer frames came back (issue 13, item 2)."""

from __future__ import annotations

from pathlib import Path

from mmkit import Video

# fixtures/make_fixtures.py writes keyframes.mp4: 4.0 s at 10 fps, x264 keyint=10, scenecut=0,
# so exactly 4 keyframes, at 0, 1, 2 and 3 s.
KEYFRAME_TIMES = [0.0, 1.0, 2.0, 3.0]


def test_keyframes_only_sampling_says_how_many_keyframes_and_how_to_get_all(
    fixtures_dir: Path,
) -> None:
    video = Video(fixtures_dir / "keyframes.mp4")

    frames = video.frames(32, exact=False)

    assert [f.timestamp for f in frames] == KEYFRAME_TIMES
    assert video.conversions == [
        "asked for 32 frames; keyframes only (exact=False): the 32 times in 0:00.0–0:04.0 fall "
        "on 4 distinct keyframes, each taken once; pass exact=True for a frame at every time"
    ]


def test_exact_sampling_gives_every_time_and_no_note(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "keyframes.mp4")

    frames = video.frames(32)

    assert len(frames) == 32
    assert video.conversions == []


def test_keyframes_only_within_a_range_counts_that_range(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "keyframes.mp4", start=1.0, end=3.0)

    frames = video.frames(8, exact=False)

    assert [f.timestamp for f in frames] == [1.0, 2.0]
    assert video.conversions == [
        "asked for 8 frames; keyframes only (exact=False): the 8 times in 0:01.0–0:03.0 fall "
        "on 2 distinct keyframes, each taken once; pass exact=True for a frame at every time"
    ]


def test_keyframes_only_with_enough_keyframes_adds_no_note(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "keyframes.mp4")

    frames = video.frames(4, exact=False)

    assert [f.timestamp for f in frames] == KEYFRAME_TIMES
    assert video.conversions == []
